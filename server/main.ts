// `npm start`: load configuration (a bad value stops here, naming it), use REDIS_URL or start our
// own Redis under the data directory, start a node, and show the one-time setup link on first run.
// Everything it says goes through the logger: JSON lines when stdout is not a terminal, readable
// lines (pino-pretty) on one.
import { ConfigError, loadConfig } from './config.js';
import { createLogger, stdoutIsTerminal, type Logger } from './logger.js';
import { ensureLocalRedis, type LocalRedis } from './store/localRedis.js';
import { configuredRedis, describeRedis } from './store/redis.js';
import { startSignetNode } from './index.js';
import { ensureSetupToken } from './auth/organizations.js';
import { MasterKeyMismatch } from './store/masterKeyCheck.js';
import { SchemaTooNew } from './store/migrations/index.js';
import { withEmbeddedToken } from './signing/custody/localToken.js';

// Before the configuration is read there is no configured level yet.
let logger: Logger = createLogger('info');

async function main() {
  let config = loadConfig();
  logger = createLogger(config.LOG_LEVEL);
  config = withEmbeddedToken(config, (message) => logger.warn(message));
  if (config.pkcs11) {
    logger.info({ module: config.pkcs11.modulePath, token: config.pkcs11.tokenLabel, embedded: config.pkcs11.embedded }, 'PKCS#11 token for token-held keys');
  }
  let localRedis: LocalRedis | null = null;
  let redis = configuredRedis(config);
  if (redis) {
    logger.info({ redis: describeRedis(redis), durability: config.SIGNET_DURABILITY }, 'using the configured Redis');
  } else {
    localRedis = await ensureLocalRedis(config.SIGNET_DATA_DIR);
    redis = localRedis.url;
    logger.info({ dataDir: config.SIGNET_DATA_DIR, owned: localRedis.owned }, 'using the local Redis (append-only file under the data directory)');
  }
  const node = await startSignetNode({ config, redis, logger }).catch(async (error: unknown) => {
    await localRedis?.stop();
    throw error;
  });

  const setupToken = await ensureSetupToken(node.signet);
  if (setupToken) showSetupLink(logger, `${config.publicUrl}/setup?token=${setupToken}`);
  logger.info({ url: config.publicUrl }, `console at ${config.publicUrl}`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // The drain is bounded by SIGNET_DRAIN_TIMEOUT_MS; should anything still hold the process
    // past it, exit regardless (a second chance for the log lines to go out first).
    setTimeout(() => {
      logger.error('drain: still running past SIGNET_DRAIN_TIMEOUT_MS; exiting');
      logger.flush?.();
      process.exit(1);
    }, config.SIGNET_DRAIN_TIMEOUT_MS + 5000).unref();
    await node.close();
    await localRedis?.stop();
    logger.flush?.();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * The setup link creates the first organization and its owner, so the operator must see it: on a
 * terminal as a banner, otherwise as one JSON line (`setupUrl`) in the node's own output. It is
 * never part of a request log (those redact query values such as token=).
 */
function showSetupLink(log: Logger, setupUrl: string) {
  if (stdoutIsTerminal()) {
    process.stdout.write(`\n  Signet is ready. Create the first organization and its owner:\n\n    ${setupUrl}\n\n  This link works once.\n\n`);
  } else {
    log.info({ setupUrl }, 'Signet is ready: open setupUrl to create the first organization and its owner (the link works once)');
  }
}

main().catch((error: unknown) => {
  // Problems an operator fixes (configuration, master key, data format) are told without a stack.
  const known = error instanceof ConfigError || error instanceof MasterKeyMismatch || error instanceof SchemaTooNew;
  if (known) logger.fatal(error.message);
  else logger.fatal({ err: error }, error instanceof Error ? error.message : String(error));
  logger.flush?.();
  process.exit(error instanceof ConfigError || error instanceof MasterKeyMismatch ? 78 : 1);
});
