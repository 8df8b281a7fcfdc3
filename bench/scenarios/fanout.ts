// Scenarios 2 and 3: fan-out of audit entries to authorized viewers (administrators: audit:read).
// An owner socket changes the organization at a steady rate (org.update: one audit entry and one
// change event each); every viewer records receipt time − the entry's `time` (same machine clock).
// The baseline is a bare Socket.IO server broadcasting the same audit and change payloads to a
// room, stamped with the same kind of `time` when sent. Signet and the baseline are up at once,
// each with its own viewers, and their entries alternate, so the machine's noise falls on both
// alike. Viewers live in a few load-generator processes (lib/viewers.ts). With two nodes, viewers
// alternate between them and broadcasts travel through the Redis adapter (the baseline's two
// servers use the same adapter).
import { performance } from 'node:perf_hooks';
import { closeAll, command, connectReady, type BenchSocket } from '../lib/clients.js';
import { mapLimit, openSeeder, scenarioPrefix, startBareServers, startSignetNodes, stopAll, type BenchContext } from '../lib/cluster.js';
import type { Progress } from '../lib/progress.js';
import type { ServerProcess } from '../lib/processes.js';
import { ratio, type ScenarioOutcome } from '../lib/report.js';
import { round, roundSummary, sleep, summarize } from '../lib/stats.js';
import { ViewerPool } from '../lib/viewers.js';

interface AuditPayload {
  seq: number;
  entry: { time: string; action: string; changes?: { name?: { after?: string } } } & Record<string, unknown>;
}

/** Only entries whose new name starts with this are measured (not the warm-up). */
const MEASURED = 'm-';
const CONNECT_CONCURRENCY = 50;

export async function fanout(ctx: BenchContext, progress: Progress, nodeCount: 1 | 2): Promise<ScenarioOutcome> {
  const viewerCount = ctx.quick ? 200 : 1000;
  const adminCount = ctx.quick ? 5 : 10;
  const ratePerSecond = 10;
  const events = ctx.quick ? 50 : 400;
  const phase = progress.phases({ setup: 1, 'Signet viewers': 2, 'bare viewers': 1, measuring: 4 });
  const prefix = scenarioPrefix(nodeCount === 1 ? 'fan1' : 'fan2');
  const seeder = await openSeeder(ctx, prefix);
  let servers: ServerProcess[] = [];
  let pool: ViewerPool | null = null;
  const sockets: BenchSocket[] = [];
  try {
    phase('setup', 0, `an organization, ${adminCount} administrator accounts`);
    const org = await seeder.createOrgWithOwner('bench-fanout');
    const admins = await mapLimit(adminCount, 8, (i) => seeder.addAdmin(org, `admin${i}`));
    phase('setup', 0.5, `starting ${nodeCount} Signet node${nodeCount > 1 ? 's' : ''}, ${nodeCount} bare server${nodeCount > 1 ? 's' : ''}, viewer processes`);
    const [nodes, bares, viewerPool] = await Promise.all([
      startSignetNodes(ctx, prefix, nodeCount, { scenario: nodeCount === 1 ? 'fanout' : 'fanout2' }),
      startBareServers(ctx, nodeCount),
      ViewerPool.start(),
    ]);
    servers = [...nodes, ...bares];
    pool = viewerPool;

    // Signet: the owner sends, administrators watch (audit:read).
    const sender = await connectReady(nodes[0]!.url, { cookie: org.cookie, origin: nodes[0]!.url });
    sockets.push(sender);
    let template: AuditPayload | null = null;
    let changeTemplate: Record<string, unknown> | null = null;
    sender.on('audit', (payload: AuditPayload) => (template ??= payload));
    sender.on('change', (payload: Record<string, unknown>) => {
      if (payload.entity === 'organization') changeTemplate ??= payload;
    });
    await Promise.all(nodes.map((node) => node.request('markLoad', { label: 'connect' })));
    const signetConnectMs = await pool.connect(
      'signet',
      Array.from({ length: viewerCount }, (_, i) => {
        const node = i % nodeCount;
        return { url: nodes[node]!.url, node, options: { cookie: admins[i % adminCount]!.cookie, origin: nodes[node]!.url, auth: { org: org.slug } } };
      }),
      CONNECT_CONCURRENCY,
      (done) => phase('Signet viewers', done / viewerCount, `${done}/${viewerCount} connected`),
    );
    phase('Signet viewers', 1, 'waiting for presence broadcasts to settle');
    const signetSettleMs = await pool.waitQuiet('signet', 500, 120_000);
    const connectLoad = await Promise.all(nodes.map((node) => node.request<{ eventLoopUtilization: number; cpuCores: number }>('load')));
    // Each connection broadcasts the organization's presence to every socket already in it.
    const connectEvents = await pool.counts('signet');
    let version = ((await command(sender, 'org.get', {})).result as { version: number }).version;
    // The sender's ack latency: the commit (with its fsync) is part of every entry's delivery time,
    // since the entry's `time` is stamped before it commits.
    const senderAcks: number[] = [];
    const sendSignet = async (name: string) => {
      const sentAt = performance.now();
      const ack = await command(sender, 'org.update', { name, version });
      if (!ack.ok) throw new Error(`org.update failed: ${ack.error?.code} ${ack.error?.message}`);
      if (name.startsWith(MEASURED)) senderAcks.push(performance.now() - sentAt);
      version = (ack.result as { version: number }).version;
    };
    for (let i = 0; i < 3; i += 1) await sendSignet(`warmup-${i}`);
    await sleep(200);
    if (!template || !changeTemplate) throw new Error('the sender saw no audit or change event');
    const auditTemplate: AuditPayload = template;

    // Baseline: the same payloads through a bare room broadcast.
    const bareSender = await connectReady(bares[0]!.url);
    sockets.push(bareSender);
    const bareConnectMs = await pool.connect(
      'bare',
      Array.from({ length: viewerCount }, (_, i) => ({ url: bares[i % nodeCount]!.url, node: i % nodeCount, options: { auth: { viewer: true } } })),
      CONNECT_CONCURRENCY,
      (done) => phase('bare viewers', done / viewerCount, `${done}/${viewerCount} connected`),
    );
    const bareSettleMs = await pool.waitQuiet('bare', 500, 30_000);
    const sendBare = (name: string) => {
      const entry = { ...auditTemplate.entry, changes: { name: { before: 'previous', after: name } } };
      return new Promise<void>((resolve) => bareSender.emit('trigger', { audit: { entry }, change: changeTemplate }, () => resolve()));
    };
    for (let i = 0; i < 3; i += 1) await sendBare(`warmup-${i}`);
    await sleep(200);

    // Measuring: Signet and baseline entries alternate, each side at `ratePerSecond`.
    await Promise.all([pool.record('signet', MEASURED), pool.record('bare', MEASURED)]);
    await Promise.all(servers.map((server) => server.request('markLoad', { label: 'measured' }).catch(() => {})));
    const expected = events * viewerCount;
    const interval = 1000 / ratePerSecond / 2;
    const startedAt = performance.now();
    let late = 0;
    for (let i = 0; i < events * 2; i += 1) {
      const wait = startedAt + i * interval - performance.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -interval) late += 1;
      const name = `${MEASURED}${i >> 1}`;
      await (i % 2 === 0 ? sendSignet(name) : sendBare(name));
      if (i % 20 === 19) phase('measuring', (i + 1) / (events * 2), `${(i + 1) >> 1}/${events} entries each`);
    }
    const measuredSeconds = (performance.now() - startedAt) / 1000;
    const deadline = performance.now() + 10_000;
    let signetDelivered = 0;
    let bareDelivered = 0;
    while (performance.now() < deadline) {
      [signetDelivered, bareDelivered] = await Promise.all([pool.delivered('signet'), pool.delivered('bare')]);
      if (signetDelivered >= expected && bareDelivered >= expected) break;
      await sleep(100);
    }
    const loads = await Promise.all(servers.map((server) => server.request<{ eventLoopUtilization: number; cpuCores: number }>('load').catch(() => null)));
    const [signetSamples, bareSamples] = await Promise.all([pool.collect('signet'), pool.collect('bare')]);

    const describe = (samples: typeof signetSamples, delivered: number, connectMs: number, settleMs: number, sideLoads: typeof loads) => ({
      delivered,
      expectedDeliveries: expected,
      latency: roundSummary(summarize(samples.all)),
      latencyByNode: samples.byNode.map((list) => roundSummary(summarize(list))),
      connectMs: Math.round(connectMs),
      settleMs: Math.round(settleMs),
      serverLoad: sideLoads.map((load) => load && { eventLoopUtilization: round(load.eventLoopUtilization), cpuCores: round(load.cpuCores) }),
    });
    const signetResult = {
      ...describe(signetSamples, signetDelivered, signetConnectMs, signetSettleMs, loads.slice(0, nodeCount)),
      connectServerLoad: connectLoad.map((load) => ({ eventLoopUtilization: round(load.eventLoopUtilization), cpuCores: round(load.cpuCores) })),
      eventsReceivedWhileConnecting: connectEvents,
      senderAckLatency: roundSummary(summarize(senderAcks)),
    };
    const bareResult = describe(bareSamples, bareDelivered, bareConnectMs, bareSettleMs, loads.slice(nodeCount));
    if (signetResult.delivered < expected) throw new Error(`only ${signetResult.delivered} of ${expected} audit deliveries arrived`);

    const scale = `${viewerCount.toLocaleString('en-US')} viewers${nodeCount > 1 ? ' over 2 nodes' : ''}, ${ratePerSecond} entries/s`;
    const base = nodeCount === 1 ? 'bare room' : 'bare 2-node adapter';
    const s = signetResult.latency;
    const b = bareResult.latency;
    const rows: ScenarioOutcome['rows'] =
      nodeCount === 1
        ? [
            { key: 'fanoutP50Ms', label: `audit delivery p50, ${scale}`, value: s.p50, unit: 'ms', baseline: b.p50, baselineLabel: base, ratio: ratio(s.p50, b.p50) },
            { key: 'fanoutP99Ms', label: `audit delivery p99, ${scale}`, value: s.p99, unit: 'ms', baseline: b.p99, baselineLabel: base, goal: { op: '<=', value: 50 } },
            { key: 'fanoutP99Ratio', label: 'Signet p99 ÷ bare room broadcast p99', value: ratio(s.p99, b.p99), unit: '', goal: { op: '<=', value: 1.5 } },
            { key: 'fanoutConnectMs', label: `connecting ${viewerCount.toLocaleString('en-US')} viewers, ${CONNECT_CONCURRENCY} at a time`, value: signetResult.connectMs, unit: 'ms', baseline: bareResult.connectMs, baselineLabel: 'bare', ratio: ratio(signetResult.connectMs, bareResult.connectMs) },
          ]
        : [
            { key: 'fanout2NodeP50Ms', label: `audit delivery p50, ${scale}`, value: s.p50, unit: 'ms', baseline: b.p50, baselineLabel: base, ratio: ratio(s.p50, b.p50) },
            { key: 'fanout2NodeP99Ms', label: `audit delivery p99, ${scale}`, value: s.p99, unit: 'ms', baseline: b.p99, baselineLabel: base, ratio: ratio(s.p99, b.p99), goal: { op: '<=', value: 100 } },
          ];
    return {
      rows,
      details: {
        nodes: nodeCount,
        viewers: viewerCount,
        viewerAccounts: adminCount,
        viewerProcesses: pool.size,
        ratePerSecond,
        events,
        measuredSeconds: round(measuredSeconds),
        lateSends: late,
        command: 'org.update by the owner: one audit entry (to audit:read) and one change event (to the whole org) each',
        auditPayloadBytes: JSON.stringify(auditTemplate).length,
        signet: signetResult,
        baseline: bareResult,
      },
    };
  } finally {
    // Servers first: a closing node drops its sockets without a presence broadcast for each.
    await stopAll(servers);
    closeAll(sockets);
    await pool?.stop();
    seeder.close();
  }
}
