// A Signet node in a child process, configured from the environment (REDIS_URL or REDIS_SENTINELS
// plus the usual SIGNET_* variables), for tests that need a node to die for real. Prints {"url": …}
// once listening.
// Run with: node --import tsx test/helpers/signingNodeProcess.ts
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { startSignetNode } from '../../server/index.js';
import { configuredRedis } from '../../server/store/redis.js';

// Expiry notices off unless asked for, as in testConfig.
const config = loadConfig({ SIGNET_CERT_EXPIRY_SWEEP_MINUTES: '0', ...process.env });
const redis = configuredRedis(config);
if (!redis) throw new Error('REDIS_URL or REDIS_SENTINELS is required');
const node = await startSignetNode({ config, redis, serveUi: false, logger: createLogger(config.LOG_LEVEL) });
process.stdout.write(`${JSON.stringify({ url: node.url })}\n`);

const stop = () => {
  void node.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
