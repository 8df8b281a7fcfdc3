// Redis down (SPEC §10): commands answer UNAVAILABLE within two seconds, nothing is half-written,
// and the node works again by itself when Redis returns: it then disconnects its sockets, which
// resume from the last sequence number they saw (the console reconnects by itself).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { spawnRedisServer } from '../../server/store/localRedis.js';
import { auditLog, command, connect, lastSeenSeq, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../helpers/signet.js';

let dir: string;
let redis: Awaited<ReturnType<typeof spawnRedisServer>>;
let node: SignetNode;
let org: TestOrg;
let owner: ClientSocket;
let ownerCookie: string;

beforeAll(async () => {
  // A Redis of this test's own, with an append-only file, so it can be stopped and brought back.
  dir = mkdtempSync(path.join(os.tmpdir(), 'signet-faults-'));
  redis = await spawnRedisServer({ dir, appendOnly: true });
  // The product's own command deadline: what this test measures.
  node = await startNode(testConfig({ SIGNET_COMMAND_DEADLINE_MS: '1500' }), redis.url);
  org = await seedOrg(node);
  ownerCookie = await signIn(node, org.users.owner);
  owner = await connect(node, { cookie: ownerCookie });
});

afterAll(async () => {
  owner?.close();
  await node?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * What the console does once Redis is back: the node disconnects its sockets when it is on the
 * commit channel again, and the client reconnects with the last sequence number it saw.
 */
async function resumeOwner(cutOff: Promise<string>): Promise<void> {
  expect(await cutOff).toBe('io server disconnect');
  const lastSeq = lastSeenSeq(owner);
  owner.close();
  owner = await connect(node, { cookie: ownerCookie, lastSeq });
  expect(owner.ready.resumed).toBe(true);
}

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
    const cutOff = new Promise<string>((resolve) => owner.once('disconnect', resolve));
    redis = await spawnRedisServer({ dir, appendOnly: true, port: redis.port });
    await resumeOwner(cutOff);
    const recovered = await command<any>(owner, 'org.get');
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
    const cutOff = new Promise<string>((resolve) => owner.once('disconnect', resolve));
    await new Promise<void>((resolve) => {
      redis.child.once('exit', () => resolve());
      redis.child.kill('SIGKILL');
    });
    redis = await spawnRedisServer({ dir, appendOnly: true, port: redis.port });
    await resumeOwner(cutOff);
    const current = await command<any>(owner, 'org.get');
    expect(current.result).toMatchObject({ name: 'Acknowledged before the crash', version: version + 1 });
    expect((await auditLog(node, org.orgId)).at(-1)).toMatchObject({ action: 'org.update', changes: { name: { after: 'Acknowledged before the crash' } } });
  });
});
