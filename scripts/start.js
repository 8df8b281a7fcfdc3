// npm start: install what is missing, build the console if needed, then run a Signet node.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureNodeModules, ensureRedisServer, ensureSigningTools, ensureSoftHsm, ensureUiBuild, root } from './ensure.js';

ensureNodeModules();
// With REDIS_URL or REDIS_SENTINELS the node uses that Redis, so none is needed here.
if (!process.env.REDIS_URL && !process.env.REDIS_SENTINELS) ensureRedisServer();
ensureSoftHsm();
ensureSigningTools({ forTests: false });
ensureUiBuild();

const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'server', 'main.ts')], { stdio: 'inherit', cwd: root });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
