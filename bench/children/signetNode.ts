// One Signet node for the bench, in a process of its own: configured from the environment like a
// real node (REDIS_URL and SIGNET_*), API only (no UI). A clean close on SIGTERM, so a --cpu-prof
// profile is written.
import { loadConfig } from '../../server/config.js';
import { withEmbeddedToken } from '../../server/signing/custody/localToken.js';
import { createLogger } from '../../server/logger.js';
import { startSignetNode } from '../../server/index.js';
import { serveIpc } from './ipc.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is required');
// As `npm start` does: with no SIGNET_PKCS11_MODULE, the data directory's SoftHSM2 token (shared by
// the bench's nodes and its seeder, which use one data directory), for token-held certificates.
const config = withEmbeddedToken(loadConfig(process.env), (message) => process.stderr.write(`${message}\n`));
const node = await startSignetNode({ config, redis: redisUrl, serveUi: false, logger: createLogger(config.LOG_LEVEL) });

serveIpc(
  {
    sockets: () => node.io.of('/').sockets.size,
    outputCap: () => ({ maxBytes: node.outputCap.maxBytes, peakBytes: node.outputCap.peakBytes }),
    // What the node's main Redis client is doing, when commands seem to hang.
    diagnose: async () => {
      const redis = node.signet.redis as unknown as { status: string; commandQueue?: { length: number }; offlineQueue?: { length: number } };
      const started = Date.now();
      const ping = await Promise.race([
        node.signet.redis.ping().then((answer) => `${answer} in ${Date.now() - started} ms`, (error: Error) => `failed: ${error.message}`),
        new Promise<string>((resolve) => setTimeout(() => resolve('no answer in 3 s'), 3000)),
      ]);
      return { status: redis.status, commandQueue: redis.commandQueue?.length, offlineQueue: redis.offlineQueue?.length, ping };
    },
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
