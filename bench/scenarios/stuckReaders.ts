// Scenario 8: five stuck readers (issue 13). Writers — sockets of one organization's owner — run
// project.update in a closed loop (a 2,000-character description each time, so each command sends
// an audit entry and a change of a few KB to every owner socket). Windows of three kinds take
// turns: no extra sockets; five extra owner sockets that read (a socket.io client each); five that
// connect over a bare WebSocket and stop reading, whose output piles up on the node until the
// per-socket cap (SIGNET_MAX_SOCKET_BUFFER_BYTES) cuts them. The writers' throughput and ack
// latency with stuck readers are compared with the windows without (what the issue measured), and
// with the windows of five healthy readers (the same fan-out, so what is left is what being stuck
// costs the others); the node's memory after GC at the end of each window shows what they held.
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { closeAll, command, connectMany, connectReady } from '../lib/clients.js';
import { openSeeder, scenarioPrefix, startSignetNodes, stopAll, type BenchContext } from '../lib/cluster.js';
import type { Progress } from '../lib/progress.js';
import type { MemoryUsage, ServerProcess } from '../lib/processes.js';
import { ratio, type ScenarioOutcome } from '../lib/report.js';
import { round, roundSummary, summarize, withTimeout } from '../lib/stats.js';

const STUCK = 5;
const MiB = 1024 * 1024;

/** An owner socket over a bare WebSocket that, once `ready`, stops reading its TCP connection. */
async function stuckReader(url: string, cookie: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers: { cookie, origin: url } });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('message', (message) => {
        const text = message.toString();
        if (text.startsWith('0')) ws.send('40');
        if (text.startsWith('42["ready"')) resolve();
      });
    }),
    30_000,
    'stuck reader ready',
  );
  ws.removeAllListeners('message');
  ws.on('error', () => {});
  ws.pause();
  return ws;
}

type Kind = 'none' | 'healthy' | 'stuck';

interface Window {
  kind: Kind;
  completed: number;
  ms: number;
  latencies: number[];
  errors: number;
  memory: MemoryUsage | null;
}

export async function stuckReaders(ctx: BenchContext, progress: Progress): Promise<ScenarioOutcome> {
  const writers = ctx.quick ? 16 : 32;
  const rounds = ctx.quick ? 2 : 4;
  // Long enough for stuck readers to fill the kernel's buffers and reach the cap (at ~250 commands/s).
  const windowMs = ctx.quick ? 5000 : 10_000;
  const phase = progress.phases({ setup: 1, measuring: 6 });
  const prefix = scenarioPrefix('stuck');
  const seeder = await openSeeder(ctx, prefix);
  let servers: ServerProcess[] = [];
  const sockets: Socket[] = [];
  try {
    phase('setup', 0, `an organization, ${writers} projects and a Signet node`);
    const org = await seeder.createOrgWithOwner('bench-stuck');
    servers = await startSignetNodes(ctx, prefix, 1, { scenario: 'stuck', exposeGc: true });
    const node = servers[0]!;
    const writerSockets = await connectMany(writers, 16, () => connectReady(node.url, { cookie: org.cookie, origin: node.url }));
    sockets.push(...writerSockets);
    const projects = await Promise.all(
      writerSockets.map(async (socket, i) => {
        const ack = await command(socket, 'project.create', { slug: `stuck-${i}`, name: `Stuck ${i}` });
        if (!ack.ok) throw new Error(`project.create failed: ${ack.error?.message}`);
        return ack.result.project as { id: string; version: number };
      }),
    );

    async function measure(kind: Kind): Promise<Window> {
      const stuckReaders = kind === 'stuck' ? await Promise.all(Array.from({ length: STUCK }, () => stuckReader(node.url, org.cookie))) : [];
      const healthyReaders = kind === 'healthy' ? await connectMany(STUCK, STUCK, () => connectReady(node.url, { cookie: org.cookie, origin: node.url })) : [];
      const window: Window = { kind, completed: 0, ms: 0, latencies: [], errors: 0, memory: null };
      const startedAt = performance.now();
      const end = startedAt + windowMs;
      await Promise.all(
        writerSockets.map(async (socket, i) => {
          while (performance.now() < end) {
            const sentAt = performance.now();
            const project = projects[i]!;
            const ack = await command(socket, 'project.update', { projectId: project.id, version: project.version, description: randomBytes(1000).toString('hex') }).catch(() => null);
            if (ack?.ok) {
              project.version = ack.result.version;
              window.completed += 1;
              window.latencies.push(performance.now() - sentAt);
            } else window.errors += 1;
          }
        }),
      );
      window.ms = performance.now() - startedAt;
      // While the stuck readers are still connected (unless the cap cut them): what the node holds.
      window.memory = await node.request<MemoryUsage>('memory').catch(() => null);
      for (const reader of stuckReaders) reader.terminate();
      closeAll(healthyReaders);
      return window;
    }

    await measure('none'); // warm-up
    const windows: Window[] = [];
    const orders: Kind[][] = [['none', 'healthy', 'stuck'], ['stuck', 'none', 'healthy'], ['healthy', 'stuck', 'none']];
    for (let turn = 0; turn < rounds; turn += 1) {
      // Rotating which comes first, so a drift over the run falls on all alike.
      for (const kind of orders[turn % orders.length]!) {
        windows.push(await measure(kind));
        phase('measuring', windows.length / (3 * rounds), `${windows.length}/${3 * rounds} windows`);
      }
    }

    const side = (kind: Kind) => {
      const list = windows.filter((window) => window.kind === kind);
      const completed = list.reduce((sum, window) => sum + window.completed, 0);
      const seconds = list.reduce((sum, window) => sum + window.ms, 0) / 1000;
      const rss = list.map((window) => window.memory?.rss ?? Number.NaN);
      return {
        commandsPerSecond: completed / seconds,
        latency: summarize(list.flatMap((window) => window.latencies)),
        errors: list.reduce((sum, window) => sum + window.errors, 0),
        maxRssMiB: Math.max(...rss) / MiB,
        meanRssMiB: rss.reduce((sum, value) => sum + value, 0) / rss.length / MiB,
      };
    };
    const clean = side('none');
    const healthy = side('healthy');
    const stuck = side('stuck');
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    const disconnects = Number(/^signet_socket_buffer_disconnects_total (\d+)/m.exec(metrics)?.[1] ?? Number.NaN);
    const cap = await node.request<{ maxBytes: number; peakBytes: number }>('outputCap');
    const growthMiB = stuck.maxRssMiB - clean.maxRssMiB;
    const detail = (s: typeof clean) => ({ ...s, commandsPerSecond: round(s.commandsPerSecond), latency: roundSummary(s.latency), maxRssMiB: round(s.maxRssMiB), meanRssMiB: round(s.meanRssMiB) });
    return {
      details: {
        writers,
        windows: 3 * rounds,
        windowMs,
        extraSocketsPerWindow: STUCK,
        none: detail(clean),
        healthy: detail(healthy),
        stuck: detail(stuck),
        bufferDisconnects: disconnects,
        stuckReadersConnected: STUCK * rounds,
        outputCap: { maxMiB: round(cap.maxBytes / MiB), peakMiB: round(cap.peakBytes / MiB) },
      },
      rows: [
        {
          key: 'stuckReadersThroughputRatio',
          label: `writers' commands/s with ${STUCK} stuck readers ÷ with none (${writers} writers)`,
          value: ratio(stuck.commandsPerSecond, clean.commandsPerSecond),
          unit: '',
        },
        {
          key: 'stuckReadersAckP50Ms',
          label: `writers' ack p50 with ${STUCK} stuck readers`,
          value: stuck.latency.p50,
          unit: 'ms',
          baseline: clean.latency.p50,
          baselineLabel: 'same run, none',
          ratio: ratio(stuck.latency.p50, clean.latency.p50),
        },
        {
          key: 'stuckReadersAckP99Ms',
          label: `writers' ack p99 with ${STUCK} stuck readers`,
          value: stuck.latency.p99,
          unit: 'ms',
          baseline: clean.latency.p99,
          baselineLabel: 'same run, none',
          ratio: ratio(stuck.latency.p99, clean.latency.p99),
        },
        {
          key: 'stuckVsHealthyThroughputRatio',
          label: `writers' commands/s with ${STUCK} stuck readers ÷ with ${STUCK} reading ones`,
          value: ratio(stuck.commandsPerSecond, healthy.commandsPerSecond),
          unit: '',
          goal: { op: '>=', value: 0.9 },
        },
        {
          key: 'stuckVsHealthyAckP99Ratio',
          label: `writers' ack p99 with ${STUCK} stuck readers ÷ with ${STUCK} reading ones`,
          value: ratio(stuck.latency.p99, healthy.latency.p99),
          unit: '',
          goal: { op: '<=', value: 1.25 },
        },
        {
          key: 'stuckReadersRssGrowthMiB',
          label: `node RSS after GC with ${STUCK} stuck readers − with none (max over windows)`,
          value: growthMiB,
          unit: 'MiB',
          goal: { op: '<=', value: (STUCK * cap.maxBytes) / MiB },
        },
      ],
    };
  } finally {
    closeAll(sockets);
    await stopAll(servers);
    seeder.close();
  }
}
