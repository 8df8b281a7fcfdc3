// Signet's embedded PKCS#11 token, as the local Redis is its embedded database: with no
// SIGNET_PKCS11_MODULE, `npm start` (and the CLI) use a SoftHSM2 token of their own under the data
// directory — its configuration, its token files and its PINs (generated, mode 0600) in
// $SIGNET_DATA_DIR/softhsm — initialized on first use. Production points SIGNET_PKCS11_* at an HSM.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, Pkcs11Config } from '../../config.js';
import { hasToken, initializeToken } from './token.js';

const EMBEDDED_TOKEN_LABEL = 'signet';

/** Where Debian (and a source build) put SoftHSM2's module. */
const SOFTHSM_MODULES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

export function findSoftHsmModule(): string | null {
  return SOFTHSM_MODULES.find((candidate) => existsSync(candidate)) ?? null;
}

/** A secret of the data directory: read it, or create it (mode 0600) the first time. */
function secretFile(file: string): string {
  if (!existsSync(file)) {
    try {
      writeFileSync(file, randomBytes(18).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another process made it first
    }
  }
  return readFileSync(file, 'utf8').trim();
}

/** The embedded token's directory layout under a data directory. */
function localTokenPaths(dataDir: string) {
  const dir = path.resolve(dataDir, 'softhsm');
  return {
    dir,
    conf: path.join(dir, 'softhsm2.conf'),
    tokens: path.join(dir, 'tokens'),
    userPin: path.join(dir, 'user.pin'),
    soPin: path.join(dir, 'so.pin'),
    /** Written once the token is initialized; until then `init.lock` says who is initializing it. */
    initialized: path.join(dir, 'initialized'),
    lock: path.join(dir, 'init.lock'),
  };
}

const LOCK_STALE_MS = 60_000;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `initialize` in one process only, when several start on one data directory at once (nodes
 * sharing a volume): the others wait for it to finish. SoftHSM2 sees the token files that exist when
 * a process loads it, so waiting happens before this process loads the module.
 */
function initializeOnce(paths: ReturnType<typeof localTokenPaths>, initialize: () => void): void {
  for (;;) {
    if (existsSync(paths.initialized)) return;
    try {
      writeFileSync(paths.lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Someone else initializes it; a lock left by a process that died is taken over.
      const held = statSync(paths.lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) rmSync(paths.lock, { force: true });
      else pause(100);
      continue;
    }
    try {
      if (!existsSync(paths.initialized)) {
        initialize();
        writeFileSync(paths.initialized, `${new Date().toISOString()}\n`);
      }
      return;
    } finally {
      rmSync(paths.lock, { force: true });
    }
  }
}

/**
 * The embedded token of a data directory, initialized on first use. Throws when SoftHSM2 is not
 * installed, with the command that installs it. (Exported for test/server/cli/cli.test.ts, which
 * runs it in several processes at once.)
 */
export function ensureLocalToken(dataDir: string): Pkcs11Config {
  const modulePath = findSoftHsmModule();
  if (!modulePath) {
    throw new Error('SoftHSM2 is not installed, so token-held keys are unavailable: run `apt-get install -y softhsm2` (or set SIGNET_PKCS11_MODULE)');
  }
  const paths = localTokenPaths(dataDir);
  mkdirSync(paths.tokens, { recursive: true, mode: 0o700 });
  if (!existsSync(paths.conf)) {
    writeFileSync(
      paths.conf,
      ['# SoftHSM2 for Signet (written by Signet; see README, "Key custody")', `directories.tokendir = ${paths.tokens}`, 'objectstore.backend = file', 'log.level = ERROR', 'slots.removable = false', ''].join('\n'),
      { mode: 0o600 },
    );
  }
  const environment = { SOFTHSM2_CONF: paths.conf };
  const pins = { so: secretFile(paths.soPin), user: secretFile(paths.userPin) };
  initializeOnce(paths, () => {
    if (!hasToken(modulePath, environment, EMBEDDED_TOKEN_LABEL)) initializeToken(modulePath, environment, EMBEDDED_TOKEN_LABEL, pins);
  });
  if (!hasToken(modulePath, environment, EMBEDDED_TOKEN_LABEL)) {
    throw new Error(`the embedded token in ${paths.tokens} is missing though ${paths.initialized} says it was made; restore it from a backup or remove ${paths.dir} to start afresh`);
  }
  return { modulePath, tokenLabel: EMBEDDED_TOKEN_LABEL, pin: pins.user, environment, embedded: true };
}

/**
 * The configuration with its token: the configured one, else the embedded one (set up here). When
 * SoftHSM2 is missing Signet runs on without token custody, saying so through `warn`.
 */
export function withEmbeddedToken(config: Config, warn: (message: string) => void): Config {
  if (config.pkcs11) return config;
  try {
    return { ...config, pkcs11: ensureLocalToken(config.SIGNET_DATA_DIR) };
  } catch (error) {
    warn(error instanceof Error ? error.message : String(error));
    return config;
  }
}
