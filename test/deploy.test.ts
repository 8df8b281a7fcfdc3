// docker-compose.yml: Redis with its append-only file on a volume, and two app nodes sharing it.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const env = { ...process.env, SIGNET_MASTER_KEY: randomBytes(32).toString('base64') };

describe('docker-compose.yml', () => {
  it('is accepted by `docker-compose config`', async () => {
    await expect(exec('docker-compose', ['config', '-q'], { env })).resolves.toBeDefined();
  });

  it('runs Redis with AOF on a volume and two Signet nodes on it', async () => {
    const { stdout: services } = await exec('docker-compose', ['config', '--services'], { env });
    expect(services.trim().split('\n').sort()).toEqual(['redis', 'signet-1', 'signet-2']);
    const { stdout } = await exec('docker-compose', ['config'], { env });
    expect(stdout).toMatch(/- --appendonly\n\s*- "yes"/);
    expect(stdout).toMatch(/redis-data:\/data/);
    expect(stdout.match(/REDIS_URL: redis:\/\/redis:6379/g)).toHaveLength(2);
  });

  it('refuses to start without a master key', async () => {
    const { SIGNET_MASTER_KEY: _unset, ...withoutKey } = env;
    const failure = await exec('docker-compose', ['config', '-q'], { env: withoutKey }).catch((error) => error);
    expect(failure.stderr).toMatch(/SIGNET_MASTER_KEY/);
  });
});
