// Redis down (SPEC §10): commands answer UNAVAILABLE within two seconds, nothing is half-written,
// and the node works again by itself when Redis returns.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { spawnRedisServer } from '../../server/store/localRedis.js';
import { auditLog, command, connect, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../helpers/signet.js';

let dir: string;
let redis: Awaited<ReturnType<typeof spawnRedisServer>>;
let node: SignetNode;
let org: TestOrg;
let owner: ClientSocket;

beforeAll(async () => {
  // A Redis of this test's own, with an append-only file, so it can be stopped and brought back.
  dir = mkdtempSync(path.join(os.tmpdir(), 'signet-faults-'));
  redis = await spawnRedisServer({ dir, appendOnly: true });
  node = await startNode(testConfig(), redis.url);
  org = await seedOrg(node);
  owner = await connect(node, { cookie: await signIn(node, org.users.owner) });
});

afterAll(async () => {
  owner?.close();
  await node?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function orgVersion(): Promise<number> {
  const current = await command<any>(owner, 'org.get');
  return current.ok ? current.result.version : -1;
}

describe('with Redis stopped', () => {
  it('commands answer UNAVAILABLE within two seconds, nothing is half-written, and the node recovers without a restart', async () => {
    const version = await orgVersion();
    const entriesBefore = (await auditLog(node, org.orgId)).length;

    await redis.stop();
    for (const [name, input] of [
      ['org.update', { name: 'Renamed while down', version }],
      ['member.invite', { email: 'while.down@example.com', role: 'member' }],
      ['member.list', {}],
    ] as const) {
      const startedAt = Date.now();
      const ack = await command(owner, name, input);
      const elapsed = Date.now() - startedAt;
      expect(ack).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
      expect(elapsed).toBeLessThan(2000);
    }

    // Redis comes back on the same port with its append-only file.
    redis = await spawnRedisServer({ dir, appendOnly: true, port: redis.port });
    let recovered = await command<any>(owner, 'org.get');
    for (let attempt = 0; !recovered.ok && attempt < 100; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50)); // the client reconnects on its own schedule
      recovered = await command<any>(owner, 'org.get');
    }
    expect(recovered.ok).toBe(true);
    // Nothing from the failed commands was written: no rename, no invitation, no audit entries.
    expect(recovered.ok && recovered.result.name).not.toBe('Renamed while down');
    expect(recovered.ok && recovered.result.version).toBe(version);
    expect((await command<any>(owner, 'invite.list')).result).toEqual([]);
    expect((await auditLog(node, org.orgId)).length).toBe(entriesBefore);
    // And it works again: the same rename now succeeds and is audited.
    const renamed = await command<any>(owner, 'org.update', { name: 'Renamed after', version });
    expect(renamed.ok).toBe(true);
    expect((await auditLog(node, org.orgId)).at(-1)).toMatchObject({ action: 'org.update', outcome: 'ok' });
  });

  it('an acknowledged command survives Redis being killed outright', async () => {
    const version = await orgVersion();
    const renamed = await command<any>(owner, 'org.update', { name: 'Acknowledged before the crash', version });
    expect(renamed.ok).toBe(true);
    // SIGKILL: no chance to flush anything on the way out.
    await new Promise<void>((resolve) => {
      redis.child.once('exit', () => resolve());
      redis.child.kill('SIGKILL');
    });
    redis = await spawnRedisServer({ dir, appendOnly: true, port: redis.port });
    let current = await command<any>(owner, 'org.get');
    for (let attempt = 0; !current.ok && attempt < 100; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50)); // the client reconnects on its own schedule
      current = await command<any>(owner, 'org.get');
    }
    expect(current.result).toMatchObject({ name: 'Acknowledged before the crash', version: version + 1 });
    expect((await auditLog(node, org.orgId)).at(-1)).toMatchObject({ action: 'org.update', changes: { name: { after: 'Acknowledged before the crash' } } });
  });
});
