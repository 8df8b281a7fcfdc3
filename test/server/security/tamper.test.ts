// Someone with write access to Redis edits the audit log (SPEC §6): an entry changed, deleted,
// inserted, two swapped, or the whole chain recomputed without the instance key (with the old
// signature, or signed with a key of their own). Both ways an operator or an auditor checks, the
// audit.verify command and `signet audit verify --org`, report the log as broken at the first
// entry that was touched. (A rolled-back tail is covered with the checkpoints that detect it.)
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { chainHash, GENESIS_HASH } from '../../../server/audit/chain.js';
import { createOrganization } from '../../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../../server/audit/entries.js';
import { auditSealed, OPERATOR, redisUrl, restCommand, signIn, startNode, testConfig } from '../../helpers/signet.js';

const run = promisify(execFile);
let node: SignetNode;
let config: ReturnType<typeof testConfig>;
let cookie: string;
const owner = { email: `auditor-${process.pid}@example.com`, password: 'an owner password long enough' };

interface Tampered {
  slug: string;
  orgId: string;
}

/** A command as the owner, over REST in the organization `slug` (one account owns them all). */
async function asOwner(slug: string, name: string, input: unknown = {}) {
  const response = await restCommand(node, name, input, { cookie, org: slug });
  return response.body;
}

/** A fresh organization (same owner account each time) with a few sealed entries. */
async function organization(slug: string): Promise<Tampered> {
  const created = await createOrganization(
    node.signet,
    { orgSlug: slug, orgName: `Org ${slug}`, ownerEmail: owner.email, ownerName: 'Audrey Auditor', ownerPassword: owner.password },
    OPERATOR,
    CLI_SOURCE,
  );
  cookie ||= await signIn(node, owner);
  for (const who of ['a', 'b', 'c']) expect((await asOwner(slug, 'member.invite', { email: `${who}@${slug}.example.com`, role: 'member' })).ok).toBe(true);
  return { slug, orgId: created.org.id };
}

const auditKey = (orgId: string) => node.signet.keys.audit(orgId);
async function stored(orgId: string, seq: number): Promise<string> {
  const [member] = await node.signet.redis.zrangebyscore(auditKey(orgId), seq, seq);
  return member!;
}

/** Rewrites entry `seq` in place. */
async function edit(orgId: string, seq: number, change: (entry: string) => string): Promise<void> {
  const original = await stored(orgId, seq);
  const edited = change(original);
  expect(edited).not.toBe(original);
  await node.signet.redis.multi().zrem(auditKey(orgId), original).zadd(auditKey(orgId), seq, edited).exec();
}

/** Recomputes every seal and the head's hash over the stored entries, as a forger without the instance key can. */
async function recomputeChain(orgId: string, signature?: (message: Buffer) => string): Promise<void> {
  const { redis, keys } = node.signet;
  const rows = await redis.zrange(keys.audit(orgId), '0', '-1', 'WITHSCORES');
  let hash = GENESIS_HASH;
  const multi = redis.multi().del(keys.auditSeals(orgId), keys.auditCheckpoints(orgId));
  for (let i = 0; i < rows.length; i += 2) {
    hash = chainHash(hash, Number(rows[i + 1]), rows[i]!);
    multi.hset(keys.auditSeals(orgId), rows[i + 1]!, hash);
  }
  const head = JSON.parse((await redis.get(keys.auditHead(orgId)))!);
  const seq = rows.length / 2;
  const forged = { ...head, seq, hash, ...(signature ? { signature: signature(Buffer.from(`signet-audit-head:${orgId}:${seq}:${hash}`)) } : {}) };
  multi.set(keys.auditHead(orgId), JSON.stringify(forged)).zadd(keys.auditCheckpoints(orgId), seq, JSON.stringify(forged));
  await multi.exec();
}

/** Where verification must report the log broken: at `firstBroken`, or (for a recomputed chain, whose seals all agree) at the latest there. */
const TAMPERINGS: Array<{ what: string; firstBroken: number; atTheLatest?: boolean; tamper(orgId: string): Promise<void> }> = [
  {
    what: 'an edited entry',
    firstBroken: 4,
    async tamper(orgId) {
      await edit(orgId, 4, (entry) => entry.replace('"outcome":"ok"', '"outcome":"denied"'));
    },
  },
  {
    what: 'a deleted entry',
    firstBroken: 3,
    async tamper(orgId) {
      await node.signet.redis.zrem(auditKey(orgId), await stored(orgId, 3));
    },
  },
  {
    what: 'an inserted entry',
    firstBroken: 3,
    async tamper(orgId) {
      const forged = (await stored(orgId, 2)).replace(/"id":"[^"]+"/, '"id":"forged"');
      await node.signet.redis.zadd(auditKey(orgId), 2.5, forged);
    },
  },
  {
    what: 'two entries swapped',
    firstBroken: 2,
    async tamper(orgId) {
      const [second, third] = [await stored(orgId, 2), await stored(orgId, 3)];
      await node.signet.redis.multi().zadd(auditKey(orgId), 3, second).zadd(auditKey(orgId), 2, third).exec();
    },
  },
  {
    what: 'an edit with every seal, checkpoint and the head recomputed (the old signature kept)',
    firstBroken: 2,
    atTheLatest: true,
    async tamper(orgId) {
      await edit(orgId, 2, (entry) => entry.replace('"via":"rest"', '"via":"cli"'));
      await recomputeChain(orgId);
    },
  },
  {
    what: 'an edit with the chain recomputed and signed with a key of the forger’s own',
    firstBroken: 3,
    atTheLatest: true,
    async tamper(orgId) {
      await edit(orgId, 3, (entry) => entry.replace(/"name":"[^"]*@/, '"name":"nobody@'));
      const forger = generateKeyPairSync('ed25519');
      await recomputeChain(orgId, (message) => sign(null, message, forger.privateKey).toString('base64'));
    },
  },
];

beforeAll(async () => {
  config = testConfig();
  node = await startNode(config);
});

afterAll(async () => {
  await node?.close();
});

/** `signet audit verify --org SLUG` against this node's Redis: its exit code and report. */
async function verifyWithCli(slug: string): Promise<{ code: number; report: any }> {
  const env = { ...process.env, REDIS_URL: redisUrl(), SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX, SIGNET_MASTER_KEY: config.masterKey.toString('base64') };
  const result = await run(process.execPath, ['bin/signet.js', 'audit', 'verify', '--org', slug], { env }).then(
    (done) => ({ code: 0, stdout: done.stdout }),
    (failed: { code: number; stdout: string }) => ({ code: failed.code, stdout: failed.stdout }),
  );
  return { code: result.code, report: JSON.parse(result.stdout) };
}

describe('tampering with the audit log in Redis is detected', () => {
  const orgs = new Map<string, Tampered>();
  let untouched: Tampered;
  /** The CLI's report per organization. */
  const cli = new Map<string, { code: number; report: any }>();

  beforeAll(async () => {
    untouched = await organization(`untouched-${process.pid}`);
    for (const [index, tampering] of TAMPERINGS.entries()) orgs.set(tampering.what, await organization(`tampered-${index}-${process.pid}`));
    await auditSealed(node);
    for (const tampering of TAMPERINGS) await tampering.tamper(orgs.get(tampering.what)!.orgId);
    // Two CLI processes at a time.
    const queue = [untouched.slug, ...[...orgs.values()].map((org) => org.slug)];
    const worker = async () => {
      for (let slug = queue.shift(); slug; slug = queue.shift()) cli.set(slug, await verifyWithCli(slug));
    };
    await Promise.all([worker(), worker()]);
  });

  it('an untouched log verifies, over the command and with the CLI', async () => {
    const verified = await asOwner(untouched.slug, 'audit.verify');
    expect(verified.result).toMatchObject({ ok: true });
    expect(verified.result.entries).toBeGreaterThanOrEqual(4);
    expect(cli.get(untouched.slug)).toMatchObject({ code: 0, report: { ok: true, entries: verified.result.entries } });
  });

  for (const tampering of TAMPERINGS) {
    it(`${tampering.what}: audit.verify and \`signet audit verify\` both name entry ${tampering.atTheLatest ? 'at most ' : ''}${tampering.firstBroken}`, async () => {
      const { slug } = orgs.get(tampering.what)!;
      const report = cli.get(slug)!;
      expect(report.code).toBe(1);
      for (const verified of [(await asOwner(slug, 'audit.verify')).result, report.report]) {
        expect(verified.ok).toBe(false);
        if (tampering.atTheLatest) expect(verified.firstBroken.seq).toBeLessThanOrEqual(tampering.firstBroken);
        else expect(verified.firstBroken.seq).toBe(tampering.firstBroken);
      }
    });
  }
});

describe('an edited log that a node signs again from the start', () => {
  it('is caught by the checkpoint the node remembers outside Redis: the re-signed head forks from it', async () => {
    const org = await organization(`resealed-${process.pid}`);
    await auditSealed(node);
    // The node has seen (and recorded outside Redis) the signed checkpoint of the untouched log.
    const before = await asOwner(org.slug, 'audit.verify');
    expect(before.result).toMatchObject({ ok: true });

    // The attacker edits an entry, deletes the seals, the head and the checkpoints, and puts the
    // organization back on the sealer's list: the node's sealer signs the edited log anew.
    await edit(org.orgId, 2, (entry) => entry.replace('"via":"rest"', '"via":"cli"'));
    const { redis, keys } = node.signet;
    await redis.multi().del(keys.auditSeals(org.orgId), keys.auditHead(org.orgId), keys.auditCheckpoints(org.orgId)).sadd(keys.auditUnsealed, org.orgId).exec();
    await auditSealed(node);
    expect(await redis.get(keys.auditHead(org.orgId))).not.toBeNull();

    const after = await asOwner(org.slug, 'audit.verify');
    expect(after.result.ok).toBe(false);
    expect(after.result.firstBroken.seq).toBeLessThanOrEqual(before.result.entries);
  });
});
