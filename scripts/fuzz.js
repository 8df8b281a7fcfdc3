// npm run fuzz: the fuzz test with 10,000 inputs per command and REST endpoint (npm test runs 200).
// SIGNET_FUZZ_RUNS sets another number; extra arguments go to vitest (e.g. -t "policy.create").
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ensureNodeModules, ensureRedisServer, root } from './ensure.js';

ensureNodeModules();
if (!process.env.REDIS_URL) ensureRedisServer();
const result = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/server/security/fuzz.test.ts', ...process.argv.slice(2)],
  { stdio: 'inherit', cwd: root, env: { ...process.env, SIGNET_FUZZ_RUNS: process.env.SIGNET_FUZZ_RUNS ?? '10000' } },
);
process.exit(result.status ?? 1);
