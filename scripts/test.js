// npm test: install what is missing (npm packages, redis-server, redis-sentinel, Chromium, SoftHSM2, the signing tools, docker-compose, haproxy, promtool), build
// the console for the browser tests, then run every test with vitest. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureChromium, ensureDockerCompose, ensureNodeModules, ensureOpsTools, ensureRedisServer, ensureSigningTools, ensureSoftHsm, ensureUiBuild, root } from './ensure.js';

ensureNodeModules();
// Even with REDIS_URL: fault and failover tests start Redis servers (and Sentinels) of their own.
ensureRedisServer();
ensureChromium();
ensureSigningTools({ forTests: true });
ensureSoftHsm({ required: true });
ensureDockerCompose();
ensureOpsTools();
ensureUiBuild();

// Type-check everything first (TypeScript and Svelte files alike): a type error fails the run.
const checked = spawnSync(process.execPath, [path.join(root, 'node_modules', 'svelte-check', 'bin', 'svelte-check'), '--tsconfig', './tsconfig.json', '--fail-on-warnings', '--output', 'human'], { stdio: 'inherit', cwd: root });
if (checked.status !== 0) {
  console.log('\ntests: 0 passed, 1 failed (type check)');
  process.exit(checked.status ?? 1);
}

const reportDir = mkdtempSync(path.join(os.tmpdir(), 'signet-vitest-'));
const report = path.join(reportDir, 'report.json');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const result = spawnSync(
  process.execPath,
  [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit', cwd: root },
);
if (existsSync(report)) {
  const { numPassedTests, numFailedTests } = JSON.parse(readFileSync(report, 'utf8'));
  // The plain closing line CI reads.
  console.log(`\ntests: ${numPassedTests} passed, ${numFailedTests} failed`);
}
rmSync(reportDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
