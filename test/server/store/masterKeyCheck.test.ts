// Nodes and CLI runs sharing one Redis must hold the installation's master key: one with another key
// refuses to start, naming the problem, before it can seal, sign or open anything.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import type { Config } from '../../../server/config.js';
import { masterKeyCheckValue } from '../../../server/store/masterKeyCheck.js';
import { auditSealed, redisUrl, seedOrg, startNode, testConfig } from '../../helpers/signet.js';

const exec = promisify(execFile);
const MISMATCH = /master key .* is not the one the data in this Redis .* was written with/;

let config: Config;
let first: SignetNode;

beforeAll(async () => {
  config = testConfig();
  first = await startNode(config);
  await seedOrg(first);
  await auditSealed(first);
});
afterAll(async () => {
  await first?.close();
});

function withKey(key: string): Config {
  return testConfig({ SIGNET_MASTER_KEY: key }, config.SIGNET_REDIS_PREFIX);
}

describe('the master key check', () => {
  it('is recorded by the first node, and is neither the key nor anything it is part of', async () => {
    const stored = await first.signet.redis.get(first.signet.keys.masterKeyCheck);
    expect(stored).toBe(masterKeyCheckValue(config.masterKey));
    const key = config.masterKey;
    for (const form of [key.toString('base64'), key.toString('hex'), key.toString('base64url')]) expect(stored).not.toContain(form);
    expect(masterKeyCheckValue(randomBytes(32))).not.toBe(stored);
  });

  it('a second node with another master key refuses to start, naming the problem', async () => {
    await expect(startNode(withKey(randomBytes(32).toString('base64')))).rejects.toThrow(MISMATCH);
    // It changed nothing: the recorded check is still the first node's.
    expect(await first.signet.redis.get(first.signet.keys.masterKeyCheck)).toBe(masterKeyCheckValue(config.masterKey));
  });

  it('a second node with the same master key starts', async () => {
    const second = await startNode(withKey(config.masterKey.toString('base64')));
    const health = await fetch(`${second.url}/readyz`);
    expect(health.status).toBe(200);
    await second.close();
  });

  it('the CLI with another master key refuses too, exit 78, before doing anything', async () => {
    const env = { ...process.env, REDIS_URL: redisUrl(), SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX, SIGNET_MASTER_KEY: randomBytes(32).toString('base64') };
    const failure = await exec(process.execPath, ['bin/signet.js', 'demo', '--json'], { env }).catch((error) => error);
    expect(failure.code).toBe(78);
    expect(failure.stderr).toMatch(MISMATCH);
    expect(await first.signet.store.organizations.idBySlug('demo')).toBeNull();
  });

  it('data from before the check: a node whose key does not verify the signed audit chain refuses; the right key records the check', async () => {
    const { redis, keys } = first.signet;
    await redis.del(keys.masterKeyCheck);
    await expect(startNode(withKey(randomBytes(32).toString('base64')))).rejects.toThrow(/audit chain head stored there does not verify/);
    expect(await redis.exists(keys.masterKeyCheck)).toBe(0);

    const rightKey = await startNode(withKey(config.masterKey.toString('base64')));
    expect(await redis.get(keys.masterKeyCheck)).toBe(masterKeyCheckValue(config.masterKey));
    await rightKey.close();
  });
});
