// The tamper-evident audit chain (SPEC §6). Entries are written by commit.lua; a sealer on every
// node links them into a per-organization SHA-256 hash chain within a second, and signs the head
// with the instance key as a C2SP checkpoint note (./checkpointNote.ts). Verification recomputes
// the chain and names the first broken entry, and, given checkpoints remembered outside Redis,
// names a log that was rolled back to an older signed head.
import { createHash, verify, type KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../store/keys.js';
import { auditOrigin, CheckpointError, openCheckpoint, signCheckpoint } from './checkpointNote.js';
import type { AuditSigningKey } from './signingKey.js';
import type { RecordedCheckpoint } from './checkpointRecord.js';

export const GENESIS_HASH = '0'.repeat(64);
const SEAL_BATCH = 5000;

/**
 * The stored head (and each stored checkpoint): `note` is the signed checkpoint. Heads sealed before
 * checkpoints were notes carry `signature` instead (Ed25519 over `signet-audit-head:<org>:<seq>:<hash>`);
 * they still verify, and the next seal replaces the head with a note.
 */
export interface ChainHead {
  seq: number;
  hash: string;
  sealedAt: string;
  note?: string;
  signature?: string;
}

/** A checkpoint remembered outside Redis, to check the chain against; `source` says where it came from. */
export interface KnownCheckpoint {
  size: number;
  hash: string;
  source: string;
}

export function chainHash(previousHash: string, seq: number, storedEntry: string): string {
  return createHash('sha256').update(`${previousHash}\n${seq}\n${storedEntry}`).digest('hex');
}

function legacyHeadMessage(orgId: string, seq: number, hash: string): Buffer {
  return Buffer.from(`signet-audit-head:${orgId}:${seq}:${hash}`);
}

/** Whether a stored head (or checkpoint) is signed by this instance and says what its fields say. */
export function headSigned(publicKey: KeyObject, orgId: string, head: ChainHead): boolean {
  if (head.note !== undefined) {
    try {
      const note = openCheckpoint(head.note, publicKey, orgId);
      return note.size === head.seq && note.hash === head.hash;
    } catch (error) {
      if (error instanceof CheckpointError) return false;
      throw error;
    }
  }
  return (
    typeof head.signature === 'string' &&
    verify(null, legacyHeadMessage(orgId, head.seq, head.hash), publicKey, Buffer.from(head.signature, 'base64'))
  );
}

/** A stored head as read from Redis, or null when there is none or it is not JSON of a head. */
function parseHead(raw: string | null): ChainHead | null {
  if (!raw) return null;
  try {
    const head = JSON.parse(raw) as ChainHead;
    return Number.isSafeInteger(head?.seq) && typeof head.hash === 'string' ? head : null;
  } catch {
    return null;
  }
}

/**
 * The organization's current signed checkpoint note, from its head in Redis: null when nothing is
 * sealed yet or the head is not validly signed. A head from before notes is vouched for with a
 * note signed now (its old signature verified first).
 */
export async function currentCheckpoint(
  redis: Redis,
  keys: RedisKeys,
  signingKey: AuditSigningKey,
  publicUrl: string,
  orgId: string,
): Promise<string | null> {
  const head = parseHead(await redis.get(keys.auditHead(orgId)));
  if (!head || !headSigned(signingKey.publicKey, orgId, head)) return null;
  return head.note ?? signCheckpoint(signingKey, auditOrigin(publicUrl, orgId), head.seq, head.hash);
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

export interface SealResult {
  sealed: number;
  /** The checkpoint this call signed and stored as the head (valid: nobody need verify it again); null when it sealed nothing. */
  checkpoint: RecordedCheckpoint | null;
}

/**
 * Seals the organization's unsealed entries and signs the new head as a checkpoint note whose
 * origin names `publicUrl`'s host. Safe to run on several nodes at once: the head is compare-and-set.
 */
export async function sealAuditChain(
  redis: Redis,
  keys: RedisKeys,
  signingKey: AuditSigningKey,
  orgId: string,
  publicUrl: string,
): Promise<SealResult> {
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
    return { sealed: 0, checkpoint: null };
  }
  const newHead: ChainHead = {
    seq,
    hash: previousHash,
    sealedAt: new Date().toISOString(),
    note: signCheckpoint(signingKey, auditOrigin(publicUrl, orgId), seq, previousHash),
  };
  const stored = await redis.eval(
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
  // 0: another node moved the head first; what it sealed is its to report.
  return stored === 1 ? { sealed: seals.length / 2, checkpoint: { size: seq, hash: previousHash, note: newHead.note! } } : { sealed: 0, checkpoint: null };
}

export interface SealerOptions {
  intervalMs?: number;
  onError?: (error: unknown) => void;
  /** Each checkpoint this node signed and stored, after the seal. */
  onSealed?: (orgId: string, checkpoint: RecordedCheckpoint) => Promise<void> | void;
}

/** Runs the sealer every `intervalMs` on this node; returns a stop function. */
export function startAuditSealer(
  redis: Redis,
  keys: RedisKeys,
  signingKey: AuditSigningKey,
  publicUrl: string,
  { intervalMs = 200, onError = () => {}, onSealed }: SealerOptions = {},
): () => Promise<void> {
  let running: Promise<void> | null = null;
  const tick = async () => {
    const orgIds = await redis.smembers(keys.auditUnsealed);
    for (const orgId of orgIds) {
      const { checkpoint } = await sealAuditChain(redis, keys, signingKey, orgId, publicUrl);
      if (checkpoint && onSealed) await onSealed(orgId, checkpoint);
    }
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

/**
 * Recomputes the organization's chain. With `known` checkpoints (remembered outside Redis: a node's
 * record, a saved checkpoint file), a chain that holds fewer entries than one of them, or another
 * head at its size, is reported as rolled back.
 */
export async function verifyAuditChain(
  redis: Redis,
  keys: RedisKeys,
  publicKey: KeyObject,
  orgId: string,
  known: KnownCheckpoint[] = [],
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

  const signatureValid = (checkpoint: ChainHead) => headSigned(publicKey, orgId, checkpoint);
  const knownAt = new Map<number, KnownCheckpoint[]>();
  for (const checkpoint of known) knownAt.set(checkpoint.size, [...(knownAt.get(checkpoint.size) ?? []), checkpoint]);

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
      const forked = knownAt.get(expected)?.find((checkpoint) => checkpoint.hash !== previousHash);
      if (forked) {
        return broken(
          expected,
          `the log was rolled back and rewritten: entries up to ${expected} differ from the signed checkpoint of ${expected} entries in ${forked.source}`,
          expected - 1,
        );
      }
      expected += 1;
    }
  }
  const entries = expected - 1;
  if (head && !signatureValid(head)) return broken(head.seq, 'the chain head signature is not valid', entries);
  if (head && head.seq > entries) {
    return broken(entries + 1, `entry ${entries + 1} is missing (the log was truncated; ${head.seq} were sealed)`, entries);
  }
  const longest = known.reduce<KnownCheckpoint | null>((best, checkpoint) => (checkpoint.size > (best?.size ?? entries) ? checkpoint : best), null);
  if (longest) {
    return broken(
      entries + 1,
      `the log was rolled back: ${longest.source} holds a signed checkpoint of ${longest.size} entries, Redis holds ${entries}`,
      entries,
    );
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
  const head = parseHead(heads[at]!);
  return head !== null && headSigned(publicKey, orgIds[at]!, head);
}
