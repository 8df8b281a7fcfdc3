// Scenario 7: one actor floods, the others should hardly notice. Victims (administrators of one
// organization, each an actor of its own) update their own project in a paced loop and record each
// ack's latency. In alternating windows a flooder process (bench/children/flooder.ts), signed in as
// another administrator of the same organization, sends bursts of project.create on its sockets
// without waiting for answers and reconnects whenever it is cut off (at most every 10 ms per
// socket); between them it is silent.
// The figure is the victims' ack latency while flooded beside the same victims' latency in the
// quiet windows of the same run. The node runs with the rate limit as deployed (600 a minute), so
// the flood meets every control: the budget, the per-actor queue and the closing of flooding sockets.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import { closeAll, command, connectReady } from '../lib/clients.js';
import { mapLimit, openSeeder, scenarioPrefix, startSignetNodes, stopAll, type BenchContext } from '../lib/cluster.js';
import type { Progress } from '../lib/progress.js';
import { startServerProcess, type ServerProcess } from '../lib/processes.js';
import { ratio, type ScenarioOutcome } from '../lib/report.js';
import { round, roundSummary, sleep, summarize } from '../lib/stats.js';

/** The victims' pace: each sends its next command this long after the previous answer. */
const VICTIM_PAUSE_MS = 100;
const RATE_LIMIT_PER_MINUTE = 600;

interface Victim {
  socket: Socket;
  projectId: string;
  version: number;
}

interface FloodTally {
  sent: number;
  answers: Record<string, number>;
  handshakes: Record<string, number>;
  closedByServer: number;
}

export async function flood(ctx: BenchContext, progress: Progress): Promise<ScenarioOutcome> {
  const victimCount = ctx.quick ? 8 : 12;
  const rounds = ctx.quick ? 3 : 8;
  const windowMs = ctx.quick ? 2000 : 3000;
  const plan = { sockets: 2, burst: 700, intervalMs: 100, retryMs: 10, command: 'project.create' };
  const phase = progress.phases({ setup: 1, measuring: 4 });
  const prefix = scenarioPrefix('flood');
  const seeder = await openSeeder(ctx, prefix);
  let servers: ServerProcess[] = [];
  const sockets: Socket[] = [];
  try {
    phase('setup', 0, `an organization, ${victimCount} victims and a flooder`);
    const org = await seeder.createOrgWithOwner('bench-flood');
    const victimAccounts = await mapLimit(victimCount, 4, (i) => seeder.addAdmin(org, `victim${i}`));
    const flooderAccount = await seeder.addAdmin(org, 'flooder');
    const projects = await mapLimit(victimCount, 4, (i) =>
      seeder.asOwner<{ project: { id: string; version: number } }>(org.orgId, 'project.create', { slug: `victim-${i}`, name: `Victim ${i}` }),
    );
    const [nodes, flooders] = await Promise.all([
      startSignetNodes(ctx, prefix, 1, { scenario: 'flood', env: { SIGNET_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE) } }),
      Promise.all([startServerProcess({ name: 'flooder', script: 'flooder.ts', env: {} })]),
    ]);
    servers = [...nodes, ...flooders];
    const node = nodes[0]!;
    const flooder = flooders[0]!;
    // An attacker's CPU is elsewhere: on this machine the flooder runs at the lowest priority, so
    // what the victims measure is the server's work on the flood, not the flooder's own.
    os.setPriority(flooder.child.pid!, 19);
    const victims: Victim[] = await Promise.all(
      victimAccounts.map(async (account, i) => {
        const socket = await connectReady(node.url, { cookie: account.cookie, origin: node.url, auth: { org: org.slug } });
        sockets.push(socket);
        return { socket, projectId: projects[i]!.project.id, version: projects[i]!.project.version };
      }),
    );

    const samples = { quiet: [] as number[], flooded: [] as number[] };
    const victimErrors: Record<string, number> = {};
    const nodeLoad = { quiet: [] as number[], flooded: [] as number[] };
    let sequence = 0;
    /** Every victim updates its project in a paced loop for `ms`; returns the ack latencies. */
    const victimsFor = async (ms: number, into: number[]) => {
      const end = performance.now() + ms;
      await Promise.all(
        victims.map(async (victim) => {
          while (performance.now() < end) {
            const sentAt = performance.now();
            const ack = await command(victim.socket, 'project.update', { projectId: victim.projectId, version: victim.version, description: `edit ${sequence++}` }, 30_000);
            if (ack.ok) {
              into.push(performance.now() - sentAt);
              victim.version = (ack.result as { version: number }).version;
            } else victimErrors[ack.error!.code] = (victimErrors[ack.error!.code] ?? 0) + 1;
            await sleep(VICTIM_PAUSE_MS);
          }
        }),
      );
    };
    const measured = async (which: 'quiet' | 'flooded', run: () => Promise<void>) => {
      await node.request('markLoad', { label: which });
      await run();
      nodeLoad[which].push((await node.request<{ eventLoopUtilization: number }>('load')).eventLoopUtilization);
    };

    phase('measuring', 0, 'warm-up');
    await victimsFor(500, []);
    const tallies: FloodTally[] = [];
    const perRound: Array<{ quiet: ReturnType<typeof roundSummary>; flooded: ReturnType<typeof roundSummary> }> = [];
    for (let i = 0; i < rounds; i += 1) {
      const [quietFrom, floodedFrom] = [samples.quiet.length, samples.flooded.length];
      await measured('quiet', () => victimsFor(windowMs, samples.quiet));
      await measured('flooded', async () => {
        await flooder.request('start', {
          plan: {
            ...plan,
            url: node.url,
            options: { cookie: flooderAccount.cookie, origin: node.url, auth: { org: org.slug } },
            input: { slug: `flood-{n}`, name: 'Flood {n}' },
          },
        });
        try {
          await victimsFor(windowMs, samples.flooded);
        } finally {
          tallies.push(await flooder.request<FloodTally>('stop', {}, 60_000));
        }
      });
      perRound.push({ quiet: roundSummary(summarize(samples.quiet.slice(quietFrom))), flooded: roundSummary(summarize(samples.flooded.slice(floodedFrom))) });
      phase('measuring', (i + 1) / rounds, `round ${i + 1}/${rounds}: ${samples.quiet.length} quiet, ${samples.flooded.length} flooded acks`);
    }
    if (Object.keys(victimErrors).length) throw new Error(`victims' commands failed: ${JSON.stringify(victimErrors)}`);

    const quiet = summarize(samples.quiet);
    const flooded = summarize(samples.flooded);
    const total: FloodTally = { sent: 0, answers: {}, handshakes: {}, closedByServer: 0 };
    for (const tally of tallies) {
      total.sent += tally.sent;
      total.closedByServer += tally.closedByServer;
      for (const [code, n] of Object.entries(tally.answers)) total.answers[code] = (total.answers[code] ?? 0) + n;
      for (const [code, n] of Object.entries(tally.handshakes)) total.handshakes[code] = (total.handshakes[code] ?? 0) + n;
    }
    const mean = (values: number[]) => round(values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length));
    const scale = `${victimCount} victims, ${plan.sockets} flooding sockets × ${plan.burst} every ${plan.intervalMs} ms`;
    return {
      details: {
        victims: victimCount,
        rounds,
        windowMs,
        rateLimitPerMinute: RATE_LIMIT_PER_MINUTE,
        flooder: { ...plan, ...total },
        // The victims' latency and what the flooder met, round by round: the first flooded window
        // holds the flooder's accepted commands (its budget), the later ones only refusals.
        perRound: perRound.map((round, i) => ({ ...round, flooder: { sent: tallies[i]!.sent, answers: tallies[i]!.answers, handshakes: tallies[i]!.handshakes } })),
        quiet: { latency: roundSummary(quiet), nodeEventLoopUtilization: mean(nodeLoad.quiet) },
        flooded: { latency: roundSummary(flooded), nodeEventLoopUtilization: mean(nodeLoad.flooded) },
      },
      rows: [
        {
          key: 'floodVictimP50Ms',
          label: `another actor's ack p50 while one actor floods (${scale})`,
          value: flooded.p50,
          unit: 'ms',
          baseline: quiet.p50,
          baselineLabel: 'same victims, quiet windows',
          ratio: ratio(flooded.p50, quiet.p50),
        },
        {
          key: 'floodVictimP50Ratio',
          label: 'flooded ÷ quiet ack p50 of the other actors',
          value: ratio(flooded.p50, quiet.p50),
          unit: '',
          goal: { op: '<=', value: 1.5 },
        },
        {
          key: 'floodVictimP99Ms',
          label: `another actor's ack p99 while one actor floods`,
          value: flooded.p99,
          unit: 'ms',
          baseline: quiet.p99,
          baselineLabel: 'same victims, quiet windows',
          ratio: ratio(flooded.p99, quiet.p99),
        },
        {
          key: 'floodVictimP99Ratio',
          label: 'flooded ÷ quiet ack p99 of the other actors',
          value: ratio(flooded.p99, quiet.p99),
          unit: '',
          goal: { op: '<=', value: 2 },
        },
      ],
    };
  } finally {
    closeAll(sockets);
    await stopAll(servers);
    seeder.close();
  }
}
