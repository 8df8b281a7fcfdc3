// The tamper-evident audit chain (SPEC §6). Entries are written by commit.lua; a sealer on every
// node links them into a per-organization SHA-256 hash chain within a second, and signs the head
// with the instance key. Verification recomputes the chain and names the first broken entry.
import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../store/keys.js';

export const GENESIS_HASH = '0'.repeat(64);
const SEAL_BATCH = 5000;

export interface ChainHead {
  seq: number;
  hash: string;
  signature: string;
  sealedAt: string;
}

export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** The instance's Ed25519 audit key, derived from the master key so every node holds the same one. */
export function deriveAuditSigningKey(masterKey: Buffer): AuditSigningKey {
  const seed = Buffer.from(hkdfSync('sha256', masterKey, 'signet', 'audit-chain-signing-key', 32));
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

export function chainHash(previousHash: string, seq: number, storedEntry: string): string {
  return createHash('sha256').update(`${previousHash}\n${seq}\n${storedEntry}`).digest('hex');
}

function headMessage(orgId: string, seq: number, hash: string): Buffer {
  return Buffer.from(`signet-audit-head:${orgId}:${seq}:${hash}`);
}

const SEAL_LUA = `
local headKey, sealsKey, checkpointsKey, auditSeqKey, unsealedKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local orgId, expectedHead, newHead, newSeq = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if (redis.call('GET', headKey) or '') ~= expectedHead then return 0 end
for i = 5, #ARGV, 2 do redis.call('HSET', sealsKey, ARGV[i], ARGV[i + 1]) end
redis.call('SET', headKey, newHead)
redis.call('ZADD', checkpointsKey, newSeq, newHead)
if tonumber(redis.call('GET', auditSeqKey) or '0') <= newSeq then redis.call('SREM', unsealedKey, orgId) end
return 1
`;

/** Seals the organization's unsealed entries. Safe to run on several nodes at once: the head is compare-and-set. */
export async function sealAuditChain(redis: Redis, keys: RedisKeys, signingKey: AuditSigningKey, orgId: string): Promise<number> {
  const headRaw = (await redis.get(keys.auditHead(orgId))) ?? '';
  const head: ChainHead | null = headRaw ? JSON.parse(headRaw) : null;
  const fromSeq = (head?.seq ?? 0) + 1;
  const rows = await redis.zrangebyscore(keys.audit(orgId), fromSeq, '+inf', 'WITHSCORES', 'LIMIT', 0, SEAL_BATCH);
  let previousHash = head?.hash ?? GENESIS_HASH;
  let seq = head?.seq ?? 0;
  const seals: string[] = [];
  for (let i = 0; i < rows.length; i += 2) {
    const rowSeq = Number(rows[i + 1]);
    if (rowSeq !== seq + 1) break; // a gap: leave it for verification to report
    seq = rowSeq;
    previousHash = chainHash(previousHash, seq, rows[i]!);
    seals.push(String(seq), previousHash);
  }
  if (seals.length === 0) {
    // Nothing to seal: drop the org from the work list if the counter agrees.
    const written = Number((await redis.get(keys.auditSeq(orgId))) ?? 0);
    if (written <= (head?.seq ?? 0)) await redis.srem(keys.auditUnsealed, orgId);
    return 0;
  }
  const newHead: ChainHead = {
    seq,
    hash: previousHash,
    signature: sign(null, headMessage(orgId, seq, previousHash), signingKey.privateKey).toString('base64'),
    sealedAt: new Date().toISOString(),
  };
  await redis.eval(
    SEAL_LUA,
    5,
    keys.auditHead(orgId),
    keys.auditSeals(orgId),
    keys.auditCheckpoints(orgId),
    keys.auditSeq(orgId),
    keys.auditUnsealed,
    orgId,
    headRaw,
    JSON.stringify(newHead),
    String(seq),
    ...seals,
  );
  return seals.length / 2;
}

/** Runs the sealer every `intervalMs` on this node; returns a stop function. */
export function startAuditSealer(
  redis: Redis,
  keys: RedisKeys,
  signingKey: AuditSigningKey,
  intervalMs = 200,
  onError: (error: unknown) => void = () => {},
): () => Promise<void> {
  let running: Promise<void> | null = null;
  const tick = async () => {
    const orgIds = await redis.smembers(keys.auditUnsealed);
    for (const orgId of orgIds) await sealAuditChain(redis, keys, signingKey, orgId);
  };
  const timer = setInterval(() => {
    if (running) return;
    running = tick()
      .catch(onError)
      .finally(() => {
        running = null;
      });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

export interface ChainVerification {
  ok: boolean;
  entries: number;
  sealed: number;
  firstBroken?: { seq: number; reason: string };
}

export async function verifyAuditChain(
  redis: Redis,
  keys: RedisKeys,
  publicKey: KeyObject,
  orgId: string,
): Promise<ChainVerification> {
  const [headRaw, seals, checkpointRows] = await Promise.all([
    redis.get(keys.auditHead(orgId)),
    redis.hgetall(keys.auditSeals(orgId)),
    redis.zrange(keys.auditCheckpoints(orgId), '0', '-1', 'WITHSCORES'),
  ]);
  const head: ChainHead | null = headRaw ? JSON.parse(headRaw) : null;
  const checkpoints = new Map<number, ChainHead>();
  for (let i = 0; i < checkpointRows.length; i += 2) {
    const checkpoint = JSON.parse(checkpointRows[i]!) as ChainHead;
    checkpoints.set(Number(checkpointRows[i + 1]), checkpoint);
  }
  const broken = (seq: number, reason: string, entries: number): ChainVerification => ({
    ok: false,
    entries,
    sealed: head?.seq ?? 0,
    firstBroken: { seq, reason },
  });

  const signatureValid = (checkpoint: ChainHead) =>
    verify(null, headMessage(orgId, checkpoint.seq, checkpoint.hash), publicKey, Buffer.from(checkpoint.signature, 'base64'));

  let expected = 1;
  let previousHash = GENESIS_HASH;
  let lastGoodCheckpoint = 0;
  const pageSize = 2000;
  for (let offset = 0; ; offset += pageSize) {
    const rows = await redis.zrange(keys.audit(orgId), String(offset), String(offset + pageSize - 1), 'WITHSCORES');
    if (rows.length === 0) break;
    for (let i = 0; i < rows.length; i += 2) {
      const stored = rows[i]!;
      const score = Number(rows[i + 1]);
      if (score !== expected) {
        const reason =
          score > expected
            ? `entry ${expected} is missing (deleted); the next stored entry is ${score}`
            : `an entry was inserted or moved at position ${expected} (found seq ${score})`;
        return broken(expected, reason, expected - 1);
      }
      previousHash = chainHash(previousHash, expected, stored);
      const seal = seals[String(expected)];
      if (seal !== undefined && seal !== previousHash) {
        return broken(expected, `entry ${expected} was edited or reordered after it was sealed`, expected - 1);
      }
      const checkpoint = checkpoints.get(expected);
      if (checkpoint) {
        if (checkpoint.hash !== previousHash || !signatureValid(checkpoint)) {
          return broken(
            lastGoodCheckpoint + 1,
            `entries ${lastGoodCheckpoint + 1}–${expected} do not match the signed checkpoint at ${expected}`,
            expected - 1,
          );
        }
        lastGoodCheckpoint = expected;
      }
      expected += 1;
    }
  }
  const entries = expected - 1;
  if (head && !signatureValid(head)) return broken(head.seq, 'the chain head signature is not valid', entries);
  if (head && head.seq > entries) {
    return broken(entries + 1, `entry ${entries + 1} is missing (the log was truncated; ${head.seq} were sealed)`, entries);
  }
  return { ok: true, entries, sealed: head?.seq ?? 0 };
}

/**
 * Whether the first signed chain head found among these organizations verifies with this key (true
 * when none is stored yet): how a node tells data written under another master key.
 */
export async function storedHeadVerifies(redis: Redis, keys: RedisKeys, publicKey: KeyObject, orgIds: string[]): Promise<boolean> {
  if (orgIds.length === 0) return true;
  const heads = await redis.mget(...orgIds.map((orgId) => keys.auditHead(orgId)));
  const at = heads.findIndex((raw) => raw !== null);
  if (at < 0) return true;
  const head = JSON.parse(heads[at]!) as ChainHead;
  return verify(null, headMessage(orgIds[at]!, head.seq, head.hash), publicKey, Buffer.from(head.signature, 'base64'));
}
