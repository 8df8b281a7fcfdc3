// Scenario 4: memory per idle authenticated connection. The server runs with --expose-gc and
// reports process.memoryUsage() after full collections, before and after the connections are
// opened (over IPC). Connections are session-authenticated owners' sockets, 50 per organization
// (every organization's presence is broadcast on each connect, so one huge organization would
// measure the connection storm instead). The baseline is a bare Socket.IO server whose sockets
// join one room.
import { closeAll, connectMany, connectReady, waitForQuiet, type BenchSocket } from '../lib/clients.js';
import { mapLimit, openSeeder, scenarioPrefix, startBareServers, startSignetNodes, stopAll, type BenchContext } from '../lib/cluster.js';
import type { Progress } from '../lib/progress.js';
import type { MemoryUsage, ServerProcess } from '../lib/processes.js';
import { ratio, type ScenarioOutcome } from '../lib/report.js';
import { round, sleep } from '../lib/stats.js';
import { formatHeapGrowth, heapGrowth } from '../lib/heapsnapshot.js';
import { rmSync } from 'node:fs';
import path from 'node:path';

const PER_ORG = 50;
const WARM_UP = 100;

interface MemoryResult {
  connections: number;
  before: MemoryUsage;
  after: MemoryUsage;
  heapPerConnectionKB: number;
  rssPerConnectionKB: number;
  externalPerConnectionKB: number;
  /** heapUsed's growth by V8 space (code_space is compiled code, not per-connection data). */
  spacesPerConnectionKB: Record<string, number>;
  connectMs: number;
  connectServerLoad: { eventLoopUtilization: number; cpuCores: number };
  heapObjects?: ReturnType<typeof heapGrowth>;
}

async function measureServer(
  server: ServerProcess,
  /** With --profile: where to write heap snapshots before and after (diffed by kind of object). */
  snapshotPrefix: string | null,
  connections: number,
  connectOne: (index: number) => Promise<BenchSocket>,
  sockets: BenchSocket[],
  onProgress: (fraction: number, detail: string) => void,
): Promise<MemoryResult> {
  // Warm-up: the first connections load and optimize code and fill caches that are not per
  // connection (V8's code space would otherwise grow during the measurement).
  const warm = await connectMany(WARM_UP, 50, connectOne);
  await waitForQuiet(warm, 300, 20_000);
  closeAll(warm);
  await sleep(1500);
  const before = await server.request<MemoryUsage>('memory');
  if (snapshotPrefix) await server.request('heapSnapshot', { file: `${snapshotPrefix}-before.heapsnapshot` }, 120_000);
  await server.request('markLoad', { label: 'connect' });
  const startedAt = Date.now();
  const opened = await connectMany(connections, 50, connectOne, (done) => {
    if (done % 50 === 0) onProgress(done / connections, `${done}/${connections} connections`);
  });
  sockets.push(...opened);
  const connectMs = Date.now() - startedAt;
  onProgress(1, 'waiting for the connections to go idle');
  await waitForQuiet(opened, 1000, 120_000);
  const connectLoad = await server.request<{ eventLoopUtilization: number; cpuCores: number }>('load');
  const open = await server.request<number>('sockets');
  if (open !== connections) throw new Error(`${server.name} holds ${open} sockets, expected ${connections}`);
  await sleep(500);
  const after = await server.request<MemoryUsage>('memory');
  let heapObjects: ReturnType<typeof heapGrowth> | undefined;
  if (snapshotPrefix) {
    onProgress(1, 'heap snapshot');
    await server.request('heapSnapshot', { file: `${snapshotPrefix}-after.heapsnapshot` }, 120_000);
    heapObjects = heapGrowth(`${snapshotPrefix}-before.heapsnapshot`, `${snapshotPrefix}-after.heapsnapshot`, connections);
    rmSync(`${snapshotPrefix}-before.heapsnapshot`, { force: true });
    rmSync(`${snapshotPrefix}-after.heapsnapshot`, { force: true });
  }
  const per = (field: Exclude<keyof MemoryUsage, 'spaces'>) => round((after[field] - before[field]) / connections / 1024);
  const spacesPerConnectionKB = Object.fromEntries(
    Object.keys(after.spaces).map((space) => [space, round(((after.spaces[space] ?? 0) - (before.spaces[space] ?? 0)) / connections / 1024)]),
  );
  return {
    connections,
    before,
    after,
    heapPerConnectionKB: per('heapUsed'),
    rssPerConnectionKB: per('rss'),
    externalPerConnectionKB: per('external'),
    spacesPerConnectionKB,
    connectMs,
    connectServerLoad: { eventLoopUtilization: round(connectLoad.eventLoopUtilization), cpuCores: round(connectLoad.cpuCores) },
    ...(heapObjects ? { heapObjects } : {}),
  };
}

export async function memoryPerConnection(ctx: BenchContext, progress: Progress): Promise<ScenarioOutcome> {
  const connections = ctx.quick ? 2000 : 5000;
  const orgCount = Math.ceil(connections / PER_ORG);
  const phase = progress.phases({ setup: 1, signet: 3, baseline: 2 });
  const prefix = scenarioPrefix('mem');
  const seeder = await openSeeder(ctx, prefix);
  let servers: ServerProcess[] = [];
  let sockets: BenchSocket[] = [];
  try {
    phase('setup', 0, `${orgCount} organizations`);
    const orgs = await mapLimit(orgCount, 16, (i) => seeder.createOrgWithOwner(`bench-mem-${i}`));
    phase('setup', 0.8, 'starting a Signet node with --expose-gc');
    servers = await startSignetNodes(ctx, prefix, 1, { exposeGc: true, scenario: 'memory' });
    const node = servers[0]!;
    const snapshots = ctx.profileDir ? path.join(ctx.profileDir, 'memory') : null;
    const signet = await measureServer(
      node,
      snapshots && `${snapshots}-signet`,
      connections,
      (i) => connectReady(node.url, { cookie: orgs[Math.floor(i / PER_ORG) % orgCount]!.cookie, origin: node.url }, 60_000),
      sockets,
      (f, d) => phase('signet', f, d),
    );
    await stopAll(servers);
    servers = [];
    closeAll(sockets);
    sockets = [];

    phase('baseline', 0, 'starting the bare server with --expose-gc');
    servers = await startBareServers(ctx, 1, { exposeGc: true });
    const bare = servers[0]!;
    const baseline = await measureServer(bare, snapshots && `${snapshots}-bare`, connections, () => connectReady(bare.url, { auth: { viewer: true } }), sockets, (f, d) =>
      phase('baseline', f, d),
    );
    const reports =
      signet.heapObjects && baseline.heapObjects
        ? [formatHeapGrowth('[memory] Signet node', signet.heapObjects), formatHeapGrowth('[memory] bare Socket.IO server', baseline.heapObjects)]
        : [];
    const scale = `${connections.toLocaleString('en-US')} idle connections`;
    return {
      reports,
      details: { connections, perOrganization: PER_ORG, organizations: orgCount, signet, baseline },
      rows: [
        {
          key: 'heapPerConnectionKB',
          label: `heap per connection, ${scale}`,
          value: signet.heapPerConnectionKB,
          unit: 'KB',
          baseline: baseline.heapPerConnectionKB,
          baselineLabel: 'bare',
          ratio: ratio(signet.heapPerConnectionKB, baseline.heapPerConnectionKB),
          goal: { op: '<=', value: 12 },
        },
        {
          key: 'rssPerConnectionKB',
          label: `RSS per connection, ${scale}`,
          value: signet.rssPerConnectionKB,
          unit: 'KB',
          baseline: baseline.rssPerConnectionKB,
          baselineLabel: 'bare',
          ratio: ratio(signet.rssPerConnectionKB, baseline.rssPerConnectionKB),
        },
      ],
    };
  } finally {
    await stopAll(servers);
    closeAll(sockets);
    seeder.close();
  }
}
