// `npm start`: load configuration (a bad value stops here, naming it), use REDIS_URL or start our
// own Redis under the data directory, start a node, and print the one-time setup link on first run.
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { ensureLocalRedis, type LocalRedis } from './store/localRedis.js';
import { startSignetNode } from './index.js';
import { ensureSetupToken } from './auth/accounts.js';
import { withEmbeddedToken } from './signing/custody/localToken.js';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
  const logger = createLogger(config.LOG_LEVEL);
  config = withEmbeddedToken(config, (message) => logger.warn(message));
  if (config.pkcs11) {
    logger.info({ module: config.pkcs11.modulePath, token: config.pkcs11.tokenLabel, embedded: config.pkcs11.embedded }, 'PKCS#11 token for token-held keys');
  }
  let localRedis: LocalRedis | null = null;
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    localRedis = await ensureLocalRedis(config.SIGNET_DATA_DIR);
    redisUrl = localRedis.url;
    logger.info({ dataDir: config.SIGNET_DATA_DIR, owned: localRedis.owned }, 'using the local Redis (append-only file under the data directory)');
  }
  const node = await startSignetNode({ config, redisUrl, logger });

  const setupToken = await ensureSetupToken(node.signet);
  if (setupToken) {
    // Printed to the terminal only, never logged: it creates the first organization and its owner.
    process.stdout.write(`\n  Signet is ready. Create the first organization and its owner:\n\n    ${config.publicUrl}/setup?token=${setupToken}\n\n  This link works once.\n\n`);
  }
  process.stdout.write(`  Console: ${config.publicUrl}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await node.close();
    await localRedis?.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
