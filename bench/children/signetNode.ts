// One Signet node for the bench, in a process of its own: configured from the environment like a
// real node (REDIS_URL and SIGNET_*), API only (no UI). A clean close on SIGTERM, so a --cpu-prof
// profile is written.
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { startSignetNode } from '../../server/index.js';
import { serveIpc } from './ipc.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is required');
const config = loadConfig(process.env);
const node = await startSignetNode({ config, redisUrl, serveUi: false, logger: createLogger(config.LOG_LEVEL) });

serveIpc(
  {
    sockets: () => node.io.of('/').sockets.size,
  },
  config.publicUrl,
);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  void node.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
