// Scenario 5: a client that missed 10,000 events catches up. The events are real: project.update
// run 5,000 times as the owner over 20 projects (an audit entry and a change event each), while
// the client is away.
// The client connects with auth.lastSeq and the time until `ready` is measured (all missed events
// arrive before it). The baseline is a bare server that emits as many events of the same shape
// before its `ready`; runs alternate between the two.
import { performance } from 'node:perf_hooks';
import { openSocket, whenReady, type BenchSocket, type ConnectOptions } from '../lib/clients.js';
import { mapLimit, openSeeder, scenarioPrefix, startBareServers, startSignetNodes, stopAll, type BenchContext } from '../lib/cluster.js';
import type { Progress } from '../lib/progress.js';
import type { ServerProcess } from '../lib/processes.js';
import { ratio, type ScenarioOutcome } from '../lib/report.js';
import { median, round, sleep } from '../lib/stats.js';

const MISSED = 10_000;
/** Projects edited side by side to write the missed events. */
const STREAMS = 20;

interface Run {
  ms: number;
  received: number;
  replayed: number;
  resumed: boolean;
}

async function resyncOnce(url: string, options: ConnectOptions, sample?: Array<{ event: string; data: Record<string, unknown> }>): Promise<Run> {
  const startedAt = performance.now();
  const socket: BenchSocket = openSocket(url, options);
  let received = 0;
  socket.onAny((event: string, data: Record<string, unknown>) => {
    if (event === 'audit' || event === 'change') {
      received += 1;
      if (sample && sample.length < 2 && !sample.some((s) => s.event === event)) sample.push({ event, data });
    }
  });
  try {
    await whenReady(socket, 60_000);
    const ms = performance.now() - startedAt;
    return { ms, received, replayed: socket.ready!.replayed, resumed: socket.ready!.resumed };
  } finally {
    socket.close();
  }
}

export async function resync(ctx: BenchContext, progress: Progress): Promise<ScenarioOutcome> {
  const runs = ctx.quick ? 3 : 11;
  const phase = progress.phases({ setup: 1, 'missed events': 3, signet: 3 });
  const prefix = scenarioPrefix('resync');
  const seeder = await openSeeder(ctx, prefix);
  let servers: ServerProcess[] = [];
  try {
    phase('setup', 0, 'an organization and a Signet node');
    const org = await seeder.createOrgWithOwner('bench-resync');
    servers = await startSignetNodes(ctx, prefix, 1, { scenario: 'resync' });
    const node = servers[0]!;
    const { keys } = seeder.signet;
    // Several projects are edited side by side (each a chain of versions), so the writes are not
    // one long series of fsyncs; every edit is a real project.update: an audit entry and a change.
    const projects = await mapLimit(STREAMS, 8, async (i) => {
      const created = await seeder.asOwner<{ project: { id: string; version: number } }>(org.orgId, 'project.create', {
        slug: `resync-${i}`,
        name: `Resync ${i}`,
      });
      return created.project;
    });
    const seqBefore = Number((await ctx.redis.get(keys.eventSeq(org.orgId))) ?? 0);
    const updatesPerProject = MISSED / 2 / STREAMS;
    let written = 0;
    await Promise.all(
      projects.map(async (project) => {
        let version = project.version;
        for (let n = 0; n < updatesPerProject; n += 1) {
          const updated = await seeder.asOwner<{ version: number }>(org.orgId, 'project.update', {
            projectId: project.id,
            version,
            description: `edit ${n}`,
          });
          version = updated.version;
          written += 2;
          if (written % 500 === 0) phase('missed events', written / MISSED, `${written}/${MISSED} events written`);
        }
      }),
    );
    const seqAfter = Number(await ctx.redis.get(keys.eventSeq(org.orgId)));
    const missed = seqAfter - seqBefore;
    if (missed !== MISSED) throw new Error(`expected ${MISSED} missed events, the stream advanced by ${missed}`);
    // Let the node's sealer chain them first, so it does not compete with the measured resyncs.
    const deadline = Date.now() + 15_000;
    while ((await ctx.redis.scard(keys.auditUnsealed)) > 0 && Date.now() < deadline) await sleep(50);

    // Signet and the baseline alternate runs, so the machine's noise falls on both alike.
    servers.push(...(await startBareServers(ctx, 1)));
    const bare = servers[1]!;
    const sample: Array<{ event: string; data: Record<string, unknown> }> = [];
    const signetOnce = async () => {
      const run = await resyncOnce(node.url, { cookie: org.cookie, origin: node.url, auth: { lastSeq: seqBefore } }, sample);
      if (run.replayed < MISSED || run.received < MISSED) throw new Error(`resync replayed ${run.replayed}, received ${run.received}, expected ${MISSED}`);
      return run;
    };
    const bareOnce = () => resyncOnce(bare.url, { auth: { replay: MISSED } });
    phase('signet', 0, 'warm-up');
    await signetOnce();
    await bare.request('configure', { configuration: { replayEvents: sample } });
    await bareOnce();
    const signetRuns: Run[] = [];
    const bareRuns: Run[] = [];
    for (let i = 0; i < runs; i += 1) {
      await sleep(200);
      await node.request('markLoad', { label: 'resync' });
      signetRuns.push(await signetOnce());
      await node.request('load');
      await sleep(200);
      bareRuns.push(await bareOnce());
      phase('signet', (i + 1) / runs, `run ${i + 1}/${runs}: Signet ${Math.round(signetRuns[i]!.ms)} ms, bare ${Math.round(bareRuns[i]!.ms)} ms`);
    }
    const signetMs = median(signetRuns.map((run) => run.ms));
    const bareMs = median(bareRuns.map((run) => run.ms));
    const clean = (list: Run[]) => list.map((run) => ({ ...run, ms: round(run.ms) }));
    return {
      details: {
        missedEvents: MISSED,
        runs,
        eventBytes: sample.map((s) => ({ event: s.event, bytes: JSON.stringify(s.data).length })),
        signet: { medianMs: round(signetMs), maxMs: round(Math.max(...signetRuns.map((r) => r.ms))), runs: clean(signetRuns) },
        baseline: { medianMs: round(bareMs), maxMs: round(Math.max(...bareRuns.map((r) => r.ms))), runs: clean(bareRuns) },
      },
      rows: [
        {
          key: 'resync10kMs',
          label: `connect with lastSeq → ready, 10,000 missed events (median of ${runs})`,
          value: signetMs,
          unit: 'ms',
          baseline: bareMs,
          baselineLabel: 'bare emit ×10k',
          ratio: ratio(signetMs, bareMs),
          goal: { op: '<=', value: 1000 },
        },
      ],
    };
  } finally {
    await stopAll(servers);
    seeder.close();
  }
}
