// Scenario 1: command throughput. Each client owns an organization of its own and sends
// `org.update {name, version}` in a closed loop with the version of the previous result: a real
// state change (validated, authorized by team:manage, committed with its audit entry, broadcast),
// never a conflict. The baseline is a bare Socket.IO server that only acks the same result.
// Beside both, a reference that does the same I/O as Signet and nothing else (a bare server that
// reads the record, makes one Lua call writing what a commit writes, fsynced, then emits the audit
// entry and the change to the sender and acks): the distance from it is Signet's own work, the distance from it
// to the bare ack is the cost of durable, broadcast writes on this machine. All three are up at
// once and measured in rotating one-second windows, so the machine's noise falls on all alike.
import { performance } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import { closeAll, command, connectMany, connectReady } from '../lib/clients.js';
import { mapLimit, openSeeder, scenarioPrefix, startBareServers, startSignetNodes, stopAll, type BenchContext } from '../lib/cluster.js';
import type { Progress } from '../lib/progress.js';
import type { ServerProcess } from '../lib/processes.js';
import { ratio, type ScenarioOutcome } from '../lib/report.js';
import { round, roundSummary, summarize } from '../lib/stats.js';
import { callsPer, commandCalls, latencyEvents, redisCpuSeconds, resetLatencyMonitor } from '../lib/redisStats.js';
import { parse as parseCookie } from 'cookie';
import { authenticateSession } from '../../server/auth/actor.js';
import { SESSION_COOKIE } from '../../server/auth/sessions.js';

interface Side {
  name: 'signet' | 'sameIo' | 'signetIo' | 'baseline';
  server: ServerProcess;
  sockets: Socket[];
  versions: number[];
  latencies: number[];
  completed: number;
  measuredMs: number;
  errors: Record<string, number>;
  warmUpErrors: Record<string, number>;
  serverCpu: number[];
  serverElu: number[];
  clientElu: number[];
  lastResult: Record<string, unknown> | null;
}

/** One window: every client sends its next command as soon as the previous one is acknowledged. */
async function window(side: Side, durationMs: number, measured: boolean): Promise<void> {
  if (measured) await side.server.request('markLoad').catch(() => {});
  const clientMark = performance.eventLoopUtilization();
  const startedAt = performance.now();
  const end = startedAt + durationMs;
  await Promise.all(
    side.sockets.map(async (socket, index) => {
      let n = 0;
      while (performance.now() < end) {
        const sentAt = performance.now();
        const ack = await command(socket, 'org.update', { name: `Bench org ${index} #${n++}`, version: side.versions[index] }).catch((error: Error) => ({
          ok: false as const,
          error: { code: 'TIMEOUT', message: error.message },
        }));
        const took = performance.now() - sentAt;
        if (ack.ok) {
          side.versions[index] = (ack.result as { version: number }).version;
          side.lastResult = ack.result as Record<string, unknown>;
          if (measured) {
            side.completed += 1;
            side.latencies.push(took);
          }
        } else {
          const errors = measured ? side.errors : side.warmUpErrors;
          errors[ack.error!.code] = (errors[ack.error!.code] ?? 0) + 1;
          const current = await command(socket, 'org.get', {}).catch(() => null);
          if (current?.ok) side.versions[index] = (current.result as { version: number }).version;
          else await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }),
  );
  if (!measured) return;
  // Commands in flight at the end of the window finish after it: count the time they took.
  side.measuredMs += performance.now() - startedAt;
  side.clientElu.push(performance.eventLoopUtilization(clientMark).utilization);
  const load = await side.server.request<{ eventLoopUtilization: number; cpuCores: number }>('load').catch(() => null);
  if (load) {
    side.serverElu.push(load.eventLoopUtilization);
    side.serverCpu.push(load.cpuCores);
  }
}

const mean = (values: number[]) => round(values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length));

function report(side: Side) {
  return {
    completed: side.completed,
    measuredSeconds: round(side.measuredMs / 1000),
    commandsPerSecond: round(side.completed / (side.measuredMs / 1000)),
    latency: roundSummary(summarize(side.latencies)),
    errors: side.errors,
    serverEventLoopUtilization: mean(side.serverElu),
    serverCpuCores: mean(side.serverCpu),
    clientEventLoopUtilization: mean(side.clientElu),
  };
}

export async function commandThroughput(ctx: BenchContext, progress: Progress): Promise<ScenarioOutcome> {
  const clients = ctx.quick ? 32 : 64;
  const rounds = ctx.quick ? 5 : 30;
  const windowMs = 1000;
  const phase = progress.phases({ setup: 2, 'warm-up': 1, measuring: 5 });
  const prefix = scenarioPrefix('cmd');
  const seeder = await openSeeder(ctx, prefix);
  let servers: ServerProcess[] = [];
  const sockets: Socket[] = [];
  try {
    // From the start, so a warm-up that fails can show a stalled disk (fsync) or a slow command.
    await resetLatencyMonitor(ctx.redis);
    phase('setup', 0, `${clients} organizations, one owner each`);
    const orgs = await mapLimit(clients, 16, (i) => seeder.createOrgWithOwner(`bench-cmd-${i}`));
    phase('setup', 0.5, 'starting a Signet node and the bare Socket.IO server');
    const [nodes, bares, stores, signetIoServers] = await Promise.all([
      startSignetNodes(ctx, prefix, 1, { scenario: 'command' }),
      startBareServers(ctx, 1),
      startBareServers(ctx, 1, { name: 'same-io', storeCommands: true, scenario: 'command' }),
      startBareServers(ctx, 1, { name: 'signet-io', storeCommands: true, scenario: 'command', script: 'signetIoServer.ts' }),
    ]);
    servers = [...nodes, ...bares, ...stores, ...signetIoServers];
    const node = nodes[0]!;
    const bare = bares[0]!;
    const sameIoServer = stores[0]!;
    const signetIoServer = signetIoServers[0]!;
    const signetSockets = await connectMany(clients, 16, (i) => connectReady(node.url, { cookie: orgs[i]!.cookie, origin: node.url }));
    sockets.push(...signetSockets);
    const versions = await Promise.all(
      signetSockets.map(async (socket) => {
        const ack = await command(socket, 'org.get', {});
        if (!ack.ok) throw new Error(`org.get failed: ${ack.error?.code} ${ack.error?.message}`);
        return (ack.result as { version: number }).version;
      }),
    );
    const bareSockets = await connectMany(clients, 16, () => connectReady(bare.url));
    sockets.push(...bareSockets);
    const sameIoSockets = await connectMany(clients, 16, () => connectReady(sameIoServer.url));
    sockets.push(...sameIoSockets);
    const signetIoSockets = await connectMany(clients, 16, () => connectReady(signetIoServer.url));
    sockets.push(...signetIoSockets);
    const side = (name: Side['name'], server: ServerProcess, list: Socket[], initial: number[]): Side => ({
      name, server, sockets: list, versions: [...initial], latencies: [], completed: 0, measuredMs: 0, errors: {}, warmUpErrors: {}, serverCpu: [], serverElu: [], clientElu: [], lastResult: null,
    });
    const signet = side('signet', node, signetSockets, versions);
    const baseline = side('baseline', bare, bareSockets, versions);
    const sameIo = side('sameIo', sameIoServer, sameIoSockets, versions);
    const signetIo = side('signetIo', signetIoServer, signetIoSockets, versions);

    phase('warm-up', 0, 'Signet');
    // The references store and emit the same result and audit entry as Signet's.
    let auditEntry: Record<string, unknown> | null = null;
    const keepEntry = (event: { entry: Record<string, unknown> }) => (auditEntry ??= event.entry);
    for (const socket of signetSockets) socket.on('audit', keepEntry);
    for (let attempt = 0; attempt < 3 && (!signet.lastResult || !auditEntry); attempt += 1) await window(signet, windowMs, false);
    for (const socket of signetSockets) socket.off('audit', keepEntry);
    if (!signet.lastResult || !auditEntry) {
      const redisLatency = await latencyEvents(ctx.redis).catch(() => null);
      const nodeState = await node.request('diagnose', {}, 5000).catch((error: Error) => error.message);
      const slowlog = await ctx.redis.call('SLOWLOG', 'GET', '5').catch((error: Error) => error.message);
      const clients = await ctx.redis.call('CLIENT', 'LIST').catch((error: Error) => error.message);
      throw new Error(
        `no org.update (with its audit entry) succeeded during the warm-up: ${JSON.stringify(signet.warmUpErrors)}; ` +
          `Redis latency monitor: ${JSON.stringify(redisLatency)}; the node's Redis client: ${JSON.stringify(nodeState)}; ` +
          `slowlog: ${JSON.stringify(slowlog)}; clients:\n${String(clients)}\nthe node said:\n${node.output().split('\n').slice(-20).join('\n')}`,
      );
    }
    const configuration = { commandResult: signet.lastResult, auditEntry };
    // Signet's I/O reads an actor's records as they are stored: those of the first client's owner.
    const owner = orgs[0]!;
    const ownerPrincipal = await authenticateSession(seeder.signet.store, parseCookie(owner.cookie)[SESSION_COOKIE]!, owner.slug);
    const actorRecords = await seeder.signet.store.actorRecords.read(ownerPrincipal);
    if (actorRecords.some((record) => record === null)) throw new Error("the first owner's actor records are not all stored");
    await Promise.all([
      bare.request('configure', { configuration }),
      sameIoServer.request('configure', { configuration }),
      signetIoServer.request('configure', { configuration: { ...configuration, actorRecords } }),
    ]);
    phase('warm-up', 0.5, "same I/O, Signet's I/O and baseline");
    // The references deliver what Signet does: an audit entry and a change for every command.
    const eventsOf = (list: Socket[]) => {
      const seen = { audit: 0, change: 0 };
      const count = (event: string) => {
        if (event === 'audit' || event === 'change') seen[event] += 1;
      };
      for (const socket of list) socket.onAny(count);
      return { seen, stop: () => list.forEach((socket) => socket.offAny(count)) };
    };
    for (const [reference, list] of [
      [sameIo, sameIoSockets],
      [signetIo, signetIoSockets],
    ] as const) {
      const events = eventsOf(list);
      await window(reference, windowMs, false);
      events.stop();
      if (!reference.lastResult || events.seen.audit === 0 || events.seen.change === 0) {
        throw new Error(`the ${reference.name} reference did not deliver its events: ${JSON.stringify(events.seen)}, errors ${JSON.stringify(reference.warmUpErrors)}`);
      }
    }
    await window(baseline, windowMs, false);

    await resetLatencyMonitor(ctx.redis);
    const redisCalls: { signet?: ReturnType<typeof callsPer>; sameIo?: ReturnType<typeof callsPer>; signetIo?: ReturnType<typeof callsPer> } = {};
    // Redis's CPU during each side's windows: only that side talks to Redis then (the bare
    // server has no adapter here).
    const redisCpu = { signet: 0, sameIo: 0, signetIo: 0 };
    const measureRedisCpu = async (which: keyof typeof redisCpu, run: () => Promise<void>) => {
      const before = await redisCpuSeconds(ctx.redis);
      await run();
      redisCpu[which] += (await redisCpuSeconds(ctx.redis)) - before;
    };
    // Redis calls (and Redis's time in them) per command, from each side's first window.
    const countCalls = async (which: keyof typeof redisCpu, side: Side) => {
      const before = await commandCalls(ctx.redis);
      const completedBefore = side.completed;
      await measureRedisCpu(which, () => window(side, windowMs, true));
      redisCalls[which] = callsPer(before, await commandCalls(ctx.redis), side.completed - completedBefore);
    };
    for (let i = 0; i < rounds; i += 1) {
      const measure = (which: keyof typeof redisCpu, side: Side) =>
        i === 0 ? countCalls(which, side) : measureRedisCpu(which, () => window(side, windowMs, true));
      await measure('signet', signet);
      await measure('sameIo', sameIo);
      await measure('signetIo', signetIo);
      await window(baseline, windowMs, true);
      const now = report(signet).commandsPerSecond;
      const floor = report(sameIo).commandsPerSecond;
      const signets = report(signetIo).commandsPerSecond;
      const base = report(baseline).commandsPerSecond;
      phase(
        'measuring',
        (i + 1) / rounds,
        `round ${i + 1}/${rounds}: Signet ${Math.round(now)}/s, same I/O ${Math.round(floor)}/s, Signet's I/O ${Math.round(signets)}/s, bare ${Math.round(base)}/s`,
      );
    }
    if (signet.completed === 0) throw new Error(`no command succeeded: ${JSON.stringify(signet.errors)}`);
    // Per second, the worst fsync (appendfsync always) and command: a slow disk shows here.
    const redisLatency = await latencyEvents(ctx.redis);

    const signetReport = report(signet);
    const baselineReport = report(baseline);
    const sameIoReport = report(sameIo);
    const signetIoReport = report(signetIo);
    const throughputRatio = ratio(signetReport.commandsPerSecond, baselineReport.commandsPerSecond);
    // Redis is single-threaded and shares this machine's cores with the node and the load
    // generator: the CPU it spends per command bounds the rate any node could reach here.
    const redisMicrosPerCommand = (which: keyof typeof redisCpu, side: Side) => round((redisCpu[which] * 1e6) / Math.max(1, side.completed));
    const signetRedisMicros = redisMicrosPerCommand('signet', signet);
    const goalRate = 0.5 * baselineReport.commandsPerSecond;
    const scale = `${clients} clients, closed loop`;
    return {
      details: {
        clients,
        rounds,
        windowMs,
        command: 'org.update {name, version} (team:manage, audited, broadcast to the org)',
        signet: {
          ...signetReport,
          redisCallsPerCommand: redisCalls.signet,
          // Redis is single-threaded: near 1 core it would be the bottleneck.
          redisCpuCores: round(redisCpu.signet / (signet.measuredMs / 1000)),
          redisCpuMicrosPerCommand: signetRedisMicros,
          redisLatencyMonitor: redisLatency,
        },
        sameIo: {
          ...sameIoReport,
          redisCpuCores: round(redisCpu.sameIo / (sameIo.measuredMs / 1000)),
          redisCpuMicrosPerCommand: redisMicrosPerCommand('sameIo', sameIo),
          redisCallsPerCommand: redisCalls.sameIo,
        },
        signetIo: {
          ...signetIoReport,
          redisCpuCores: round(redisCpu.signetIo / (signetIo.measuredMs / 1000)),
          redisCpuMicrosPerCommand: redisMicrosPerCommand('signetIo', signetIo),
          redisCallsPerCommand: redisCalls.signetIo,
        },
        baseline: baselineReport,
      },
      rows: [
        {
          key: 'commandsPerSecond',
          label: `org.update commands/s, ${scale}`,
          value: signetReport.commandsPerSecond,
          unit: '/s',
          baseline: baselineReport.commandsPerSecond,
          baselineLabel: 'bare ack',
          ratio: throughputRatio,
        },
        {
          key: 'commandThroughputRatio',
          label: 'Signet commands/s ÷ bare acks/s',
          value: throughputRatio,
          unit: '',
          goal: { op: '>=', value: 0.5 },
        },
        {
          key: 'commandsPerSecondVsSameIo',
          label: `org.update commands/s vs the same I/O alone`,
          value: signetReport.commandsPerSecond,
          unit: '/s',
          baseline: sameIoReport.commandsPerSecond,
          baselineLabel: 'same I/O',
          ratio: ratio(signetReport.commandsPerSecond, sameIoReport.commandsPerSecond),
        },
        {
          key: 'commandsPerSecondVsSignetIo',
          label: `org.update commands/s vs Signet's I/O alone`,
          value: signetReport.commandsPerSecond,
          unit: '/s',
          baseline: signetIoReport.commandsPerSecond,
          baselineLabel: "Signet's I/O",
          ratio: ratio(signetReport.commandsPerSecond, signetIoReport.commandsPerSecond),
        },
        {
          key: 'sameIoThroughputRatio',
          label: 'same I/O alone commands/s ÷ bare acks/s',
          value: ratio(sameIoReport.commandsPerSecond, baselineReport.commandsPerSecond),
          unit: '',
        },
        {
          key: 'redisCoresAtGoal',
          label: `Redis CPU cores Signet's commits would need at the goal (${Math.round(goalRate)}/s, ${signetRedisMicros} µs each)`,
          value: round((signetRedisMicros * goalRate) / 1e6),
          unit: 'cores',
        },
        {
          key: 'commandAckP50Ms',
          label: `ack latency p50, ${scale}`,
          value: signetReport.latency.p50,
          unit: 'ms',
          baseline: baselineReport.latency.p50,
          baselineLabel: 'bare ack',
          ratio: ratio(signetReport.latency.p50, baselineReport.latency.p50),
        },
        {
          key: 'commandAckP99Ms',
          label: `ack latency p99, ${scale}`,
          value: signetReport.latency.p99,
          unit: 'ms',
          baseline: baselineReport.latency.p99,
          baselineLabel: 'bare ack',
          ratio: ratio(signetReport.latency.p99, baselineReport.latency.p99),
        },
      ],
    };
  } finally {
    // Servers first: a closing node drops its sockets without a presence broadcast for each.
    await stopAll(servers);
    closeAll(sockets);
    seeder.close();
  }
}
