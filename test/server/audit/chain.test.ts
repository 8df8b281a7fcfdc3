// The audit log is append-only and tamper-evident (SPEC §6): verification names the first broken
// entry of an edited, deleted, inserted or reordered log.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { sign } from 'node:crypto';
import { currentCheckpoint, verifyAuditChain } from '../../../server/audit/chain.js';
import { openCheckpoint } from '../../../server/audit/checkpointNote.js';
import { auditLog, auditSealed, command, connect, redisUrl, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';

const run = promisify(execFile);
let node: SignetNode;
let config: ReturnType<typeof testConfig>;
let owner: ClientSocket;
let org: TestOrg;

async function verify() {
  return verifyAuditChain(node.signet.redis, node.signet.keys, node.signet.auditKey.publicKey, org.orgId);
}

/** The stored form of entry `seq` (the sorted-set member). */
async function stored(seq: number): Promise<string> {
  const [member] = await node.signet.redis.zrangebyscore(node.signet.keys.audit(org.orgId), seq, seq);
  return member!;
}

beforeAll(async () => {
  config = testConfig();
  node = await startNode(config);
});
afterAll(async () => {
  owner?.close();
  await node?.close();
});

beforeEach(async () => {
  org = await seedOrg(node);
  owner = await connect(node, { cookie: await signIn(node, org.users.owner) });
  for (const email of ['a@example.com', 'b@example.com', 'c@example.com']) {
    expect((await command(owner, 'member.invite', { email, role: 'member' })).ok).toBe(true);
  }
  await auditSealed(node);
});

describe('the audit chain', () => {
  it('verifies an untouched log, entry by entry', async () => {
    const entries = await auditLog(node, org.orgId);
    expect(entries.length).toBeGreaterThanOrEqual(8);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    expect(await verify()).toEqual({ ok: true, entries: entries.length, sealed: entries.length });
    expect((await command(owner, 'audit.verify')).result).toMatchObject({ ok: true, entries: entries.length });
  });

  it('names an edited entry', async () => {
    const key = node.signet.keys.audit(org.orgId);
    const original = await stored(4);
    const edited = original.replace('"outcome":"ok"', '"outcome":"denied"');
    expect(edited).not.toBe(original);
    await node.signet.redis.multi().zrem(key, original).zadd(key, 4, edited).exec();
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.firstBroken).toEqual({ seq: 4, reason: expect.stringMatching(/edited/) });
  });

  it('names a deleted entry', async () => {
    await node.signet.redis.zrem(node.signet.keys.audit(org.orgId), await stored(5));
    expect((await verify()).firstBroken).toEqual({ seq: 5, reason: expect.stringMatching(/missing/) });
  });

  it('names a deleted last entry (truncation)', async () => {
    const entries = await auditLog(node, org.orgId);
    await node.signet.redis.zrem(node.signet.keys.audit(org.orgId), await stored(entries.length));
    expect((await verify()).firstBroken).toEqual({ seq: entries.length, reason: expect.stringMatching(/truncated/) });
  });

  it('names an inserted entry', async () => {
    const forged = (await stored(3)).replace(/"id":"[^"]+"/, '"id":"forged"');
    await node.signet.redis.zadd(node.signet.keys.audit(org.orgId), 3.5, forged);
    expect((await verify()).firstBroken).toEqual({ seq: 4, reason: expect.stringMatching(/inserted/) });
  });

  it('names reordered entries', async () => {
    const key = node.signet.keys.audit(org.orgId);
    const [third, fourth] = [await stored(3), await stored(4)];
    await node.signet.redis.multi().zadd(key, 4, third).zadd(key, 3, fourth).exec();
    expect((await verify()).firstBroken).toEqual({ seq: 3, reason: expect.stringMatching(/edited or reordered/) });
  });

  it('catches an edit even when the forger also recomputes the seals and head, since only the instance key signs', async () => {
    const { redis, keys } = node.signet;
    const original = await stored(2);
    await redis.multi().zrem(keys.audit(org.orgId), original).zadd(keys.audit(org.orgId), 2, original.replace('"via":"cli"', '"via":"rest"')).exec();
    // Recompute the whole chain as a forger without the private key would.
    const { chainHash, GENESIS_HASH } = await import('../../../server/audit/chain.js');
    const rows = await redis.zrange(keys.audit(org.orgId), '0', '-1', 'WITHSCORES');
    let hash = GENESIS_HASH;
    const multi = redis.multi();
    for (let i = 0; i < rows.length; i += 2) {
      hash = chainHash(hash, Number(rows[i + 1]), rows[i]!);
      multi.hset(keys.auditSeals(org.orgId), rows[i + 1]!, hash);
    }
    const head = JSON.parse((await redis.get(keys.auditHead(org.orgId)))!);
    multi.set(keys.auditHead(org.orgId), JSON.stringify({ ...head, hash }));
    await multi.exec();
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.firstBroken!.seq).toBeLessThanOrEqual(2);
  });

  it('a head sealed before checkpoints were signed notes still verifies, is served as a note, and is extended', async () => {
    const { redis, keys, auditKey } = node.signet;
    const head = JSON.parse((await redis.get(keys.auditHead(org.orgId)))!);
    const legacy = JSON.stringify({
      seq: head.seq,
      hash: head.hash,
      signature: sign(null, Buffer.from(`signet-audit-head:${org.orgId}:${head.seq}:${head.hash}`), auditKey.privateKey).toString('base64'),
      sealedAt: head.sealedAt,
    });
    const checkpoints = keys.auditCheckpoints(org.orgId);
    await redis.multi().set(keys.auditHead(org.orgId), legacy).zremrangebyscore(checkpoints, head.seq, head.seq).zadd(checkpoints, head.seq, legacy).exec();
    expect(await verify()).toEqual({ ok: true, entries: head.seq, sealed: head.seq });
    const note = await currentCheckpoint(redis, keys, auditKey, node.signet.config.publicUrl, org.orgId);
    expect(openCheckpoint(note!, auditKey.publicKey, org.orgId)).toMatchObject({ size: head.seq, hash: head.hash });

    expect((await command(owner, 'member.invite', { email: 'd@example.com', role: 'member' })).ok).toBe(true);
    await auditSealed(node);
    const extended = JSON.parse((await redis.get(keys.auditHead(org.orgId)))!);
    expect(extended.seq).toBeGreaterThan(head.seq);
    expect(openCheckpoint(extended.note, auditKey.publicKey, org.orgId)).toMatchObject({ size: extended.seq });
    expect(await verify()).toMatchObject({ ok: true, entries: extended.seq });
    // A forged legacy head (its signature over other numbers) does not verify.
    await redis.set(keys.auditHead(org.orgId), JSON.stringify({ ...JSON.parse(legacy), seq: extended.seq, hash: extended.hash }));
    expect(await verify()).toMatchObject({ ok: false, firstBroken: { reason: 'the chain head signature is not valid' } });
  });

  it('`signet audit verify --org SLUG` reports the same, with its exit code', async () => {
    const env = {
      ...process.env,
      REDIS_URL: redisUrl(),
      SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX,
      SIGNET_MASTER_KEY: config.masterKey.toString('base64'),
    };
    const ok = await run(process.execPath, ['bin/signet.js', 'audit', 'verify', '--org', org.slug], { env });
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true });
    await node.signet.redis.zrem(node.signet.keys.audit(org.orgId), await stored(6));
    const broken = await run(process.execPath, ['bin/signet.js', 'audit', 'verify', '--org', org.slug], { env }).catch((error) => error);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ ok: false, firstBroken: { seq: 6 } });
  });
});
