// npm test: install what is missing (npm packages, redis-server, Chromium), build the console for
// the browser tests, then run every test with vitest. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ensureChromium, ensureNodeModules, ensureRedisServer, ensureUiBuild, root } from './ensure.js';

ensureNodeModules();
if (!process.env.REDIS_URL) ensureRedisServer();
ensureChromium();
ensureUiBuild();

const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
