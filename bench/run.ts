// `npm run bench [-- --quick] [--only a,b] [--profile] [--strict]`: starts its own Redis, runs each
// scenario against Signet node(s) in child processes and against a bare baseline measured in the
// same run, prints a table and writes bench/results/latest.json plus a timestamped copy.
import { mkdtempSync, rmSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { spawnRedisServer } from '../server/store/localRedis.js';
import { connectRedis } from '../server/store/redis.js';
import type { BenchContext } from './lib/cluster.js';
import { Progress } from './lib/progress.js';
import { BENCH_DIR, killAllServers } from './lib/processes.js';
import { buildResult, formatTable, previousFigures, writePartial, writeResult, meets, type FigureRow, type ScenarioOutcome } from './lib/report.js';
import { formatProfile, summarizeProfileWindows } from './lib/cpuprofile.js';
import { withTimeout } from './lib/stats.js';
import { commandThroughput } from './scenarios/commandThroughput.js';
import { fanout } from './scenarios/fanout.js';
import { memoryPerConnection } from './scenarios/memory.js';
import { resync } from './scenarios/resync.js';
import { signing } from './scenarios/signing.js';
import { signingFormats } from './scenarios/signingFormats.js';
import { flood } from './scenarios/flood.js';
import { stuckReaders } from './scenarios/stuckReaders.js';

const USAGE = `npm run bench [-- options]
  --quick          CI-sized run (under 2 minutes): same scenarios, smaller counts
  --only a,b       run only these scenarios: ${'command, fanout, fanout2, memory, resync, signing, formats, flood, stuck'}
  --profile        run Signet nodes with --cpu-prof and print where their CPU time went
  --strict         exit with status 1 when a goal is missed (a crashed scenario always does)
  --redis-no-aof   run the bench's Redis without its append-only file (by default it runs as
                   Signet's own Redis and the compose file do: AOF with appendfsync always)`;

interface Scenario {
  name: string;
  label: string;
  quickScale: string;
  fullScale: string;
  /** Upper bound on the scenario's time; past it the scenario fails and its servers are killed. */
  limitSeconds: { quick: number; full: number };
  run: (ctx: BenchContext, progress: Progress) => Promise<ScenarioOutcome>;
}

const SCENARIOS: Scenario[] = [
  { name: 'command', label: '1 command throughput', quickScale: '32 clients, 5 × 1 s windows', fullScale: '64 clients, 30 × 1 s windows', limitSeconds: { quick: 75, full: 180 }, run: commandThroughput },
  { name: 'fanout', label: '2 fan-out, 1 node', quickScale: '200 viewers, 50 entries', fullScale: '1,000 viewers, 400 entries', limitSeconds: { quick: 45, full: 240 }, run: (ctx, p) => fanout(ctx, p, 1) },
  { name: 'fanout2', label: '3 fan-out, 2 nodes', quickScale: '200 viewers, 50 entries', fullScale: '1,000 viewers, 400 entries', limitSeconds: { quick: 45, full: 240 }, run: (ctx, p) => fanout(ctx, p, 2) },
  { name: 'memory', label: '4 memory/connection', quickScale: '2,000 connections', fullScale: '5,000 connections', limitSeconds: { quick: 60, full: 180 }, run: memoryPerConnection },
  { name: 'resync', label: '5 resync 10k', quickScale: '3 runs', fullScale: '11 runs', limitSeconds: { quick: 40, full: 120 }, run: resync },
  { name: 'signing', label: '6 signing 1 MB', quickScale: '10 + 16 requests', fullScale: '60 + 96 requests', limitSeconds: { quick: 40, full: 150 }, run: signing },
  { name: 'formats', label: '7 signing per format 1 MB', quickScale: '3 formats × (6 + 8) requests', fullScale: '3 formats × (30 + 40) requests', limitSeconds: { quick: 60, full: 240 }, run: signingFormats },
  { name: 'flood', label: '8 one actor floods', quickScale: '8 victims, 3 × 2 s flooded', fullScale: '12 victims, 8 × 3 s flooded', limitSeconds: { quick: 40, full: 120 }, run: flood },
  { name: 'stuck', label: '9 five stuck readers', quickScale: '16 writers, 3 × 2 windows of 5 s', fullScale: '32 writers, 3 × 4 windows of 10 s', limitSeconds: { quick: 60, full: 200 }, run: stuckReaders },
];

/** The whole run's budget: a scenario gets at most what is left of it (quick < 2 min, full < 15 min). */
const BUDGET_SECONDS = { quick: 112, full: 14 * 60 };

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    'redis-no-aof': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const quick = Boolean(values.quick);
const only = values.only ? new Set(values.only.split(',').map((name) => name.trim())) : null;
for (const name of only ?? []) {
  if (!SCENARIOS.some((scenario) => scenario.name === name)) {
    console.error(`unknown scenario "${name}"\n\n${USAGE}`);
    process.exit(2);
  }
}
const selected = SCENARIOS.filter((scenario) => !only || only.has(scenario.name));

const startedAt = new Date();
const resultsDir = path.join(BENCH_DIR, 'results');
const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'signet-bench-'));
const profileDir = values.profile ? path.join(resultsDir, 'profiles', startedAt.toISOString().replace(/[:.]/g, '-')) : null;
if (profileDir) mkdirSync(profileDir, { recursive: true });

process.stderr.write(
  `Signet bench — ${quick ? 'QUICK run (smaller counts, labelled in the table)' : 'full run'}, node ${process.version}, ${os.cpus().length} CPUs\n`,
);
// As deployed (Signet's own Redis, docker-compose): every acknowledged write is fsynced first.
const appendOnly = !values['redis-no-aof'];
const redisServer = await spawnRedisServer({ dir: path.join(tmpDir, 'redis'), appendOnly });
const redis = await connectRedis(redisServer.url);
const ctx: BenchContext = {
  quick,
  redisUrl: redisServer.url,
  redis,
  tmpDir,
  profileDir,
  masterKey: randomBytes(32).toString('base64'),
  profiles: [],
};

/** The main thread's profile in a node's profile directory (CPU.<date>.<time>.<pid>.<thread 0>.<n>.cpuprofile). */
function mainThreadProfiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(name))
    .map((name) => path.join(dir, name));
}

const rows: FigureRow[] = [];
const scenarios: Record<string, unknown> = {};
const errors: Record<string, string> = {};
const profileReports: string[] = [];

for (const scenario of selected) {
  const scale = quick ? scenario.quickScale : scenario.fullScale;
  const progress = new Progress(`${scenario.label}`);
  ctx.profiles = [];
  const scenarioStartedAt = Date.now();
  const loadBefore = os.loadavg()[0]!;
  try {
    await redis.flushall();
    const left = (quick ? BUDGET_SECONDS.quick : BUDGET_SECONDS.full) * 1000 - (Date.now() - startedAt.getTime());
    if (left < 5000) throw new Error('skipped: the run is out of its time budget');
    const limit = Math.min((quick ? scenario.limitSeconds.quick : scenario.limitSeconds.full) * 1000, left);
    const outcome = await withTimeout(scenario.run(ctx, progress), limit, `scenario ${scenario.name}`);
    rows.push(...outcome.rows);
    profileReports.push(...(outcome.reports ?? []));
    scenarios[scenario.name] = {
      scale,
      seconds: Math.round((Date.now() - scenarioStartedAt) / 100) / 10,
      // The machine's 1-minute load average before and after: above the CPU count, figures are noisy.
      loadAverage: [Math.round(loadBefore * 100) / 100, Math.round(os.loadavg()[0]! * 100) / 100],
      ...outcome.details,
    };
    const misses = outcome.rows.filter((row) => row.goal && !meets(row.value, row.goal)).map((row) => row.key);
    progress.done(misses.length ? `done; goal missed: ${misses.join(', ')}` : 'done');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    errors[scenario.name] = message;
    scenarios[scenario.name] = { scale, error: message };
    progress.fail(message.split('\n')[0]!);
    killAllServers();
  }
  for (const summary of ctx.profiles.flatMap(mainThreadProfiles).flatMap((file) => summarizeProfileWindows(file))) {
    (scenarios[scenario.name] as Record<string, unknown>).profiles ??= [];
    ((scenarios[scenario.name] as Record<string, unknown>).profiles as unknown[]).push(summary);
    profileReports.push(`[${scenario.name}] ${formatProfile(summary)}`);
  }
}

await redis.quit().catch(() => {});
await redisServer.stop();
rmSync(tmpDir, { recursive: true, force: true });

const previous = previousFigures(resultsDir, quick);
const redisConfig = { appendonly: appendOnly ? 'yes' : 'no', appendfsync: 'always' };
const result = buildResult(quick, startedAt, scenarios, rows, errors, { redis: redisConfig });
// A partial run (--only) does not replace latest.json; it is kept as partial.json for a look.
const written = only ? [writePartial(resultsDir, result)] : writeResult(resultsDir, result);

console.log(`\nSignet bench ${quick ? '(QUICK: smaller counts)' : '(full)'} — ${result.date}, node ${result.node}, ${result.machine.cpus} CPUs, ${result.durationSeconds} s`);
console.log(`  Redis ${appendOnly ? 'with AOF, appendfsync always (as deployed)' : 'without AOF (--redis-no-aof)'}; load average at the end ${os.loadavg().map((load) => load.toFixed(1)).join(' ')}`);
for (const scenario of selected) console.log(`  ${scenario.label}: ${quick ? scenario.quickScale : scenario.fullScale}`);
console.log('');
console.log(formatTable(rows, previous));
for (const [name, message] of Object.entries(errors)) console.log(`\nscenario ${name} FAILED: ${message}`);
if (profileReports.length) console.log(`\nProfiles of the Signet nodes (${profileDir}):\n\n${profileReports.join('\n\n')}`);
console.log(`\nwrote ${written.map((file) => path.relative(process.cwd(), file)).join(', ')}${only ? ' (--only: latest.json left as it was)' : ''}`);

const missed = Object.values(result.goals).some((goal) => !goal.met);
process.exit(Object.keys(errors).length || (values.strict && missed) ? 1 : 0);
