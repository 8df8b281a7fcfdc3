// One real redis-server for the whole run (on a free port), unless REDIS_URL points at one, and one
// real SoftHSM2 token in a temporary directory for token-held keys. Test files isolate themselves
// with a key prefix of their own (and their keys' labels carry their certificate ids).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { spawnRedisServer } from '../../server/store/localRedis.js';
import { findSoftHsmModule } from '../../server/signing/custody/localToken.js';

export interface TestToken {
  modulePath: string;
  tokenLabel: string;
  pinFile: string;
  softhsmConf: string;
}

/** A SoftHSM2 token of the run's own, initialized with softhsm2-util (as an operator would). */
function initializeTestToken(dir: string): TestToken {
  const modulePath = findSoftHsmModule();
  if (!modulePath) throw new Error('SoftHSM2 is not installed: run `apt-get install -y softhsm2`');
  const tokens = path.join(dir, 'tokens');
  mkdirSync(tokens);
  const softhsmConf = path.join(dir, 'softhsm2.conf');
  writeFileSync(softhsmConf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const pin = `test-pin-${process.pid}`;
  const pinFile = path.join(dir, 'user.pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  const tokenLabel = 'signet-tests';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--so-pin', `so-${pin}`, '--pin', pin], {
    env: { ...process.env, SOFTHSM2_CONF: softhsmConf },
    stdio: 'ignore',
  });
  return { modulePath, tokenLabel, pinFile, softhsmConf };
}

export default async function setup(project: TestProject) {
  const tokenDir = mkdtempSync(path.join(os.tmpdir(), 'signet-test-token-'));
  project.provide('pkcs11', initializeTestToken(tokenDir));
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return () => rmSync(tokenDir, { recursive: true, force: true });
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-test-redis-'));
  const redis = await spawnRedisServer({ dir });
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(tokenDir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    pkcs11: TestToken;
  }
}
