// Each node's watch against a rolled-back audit log (SPEC §6). Someone with write access to Redis can
// delete the newest entries and their seals and restore an older signed head: the chain in Redis is
// then whole and validly signed, only shorter. So every node remembers, on its own disk
// (./checkpointRecord.ts), the highest signed checkpoint it has seen per organization, and compares
// Redis with it:
//   - when it seals (the checkpoint it just signed),
//   - when it reads a head for someone (audit.query, audit.verify, the REST checkpoint),
//   - and every SIGNET_AUDIT_CHECK_MS for every organization in its record.
// A head that extends the remembered one (the seal at the remembered size still holds the remembered
// hash) is learned; fewer entries, another head at the same size, or no valid head raise the alarm:
// an error log line, the signet_audit_rollback_detected_total{org} counter, and a notification to
// the organization's audit viewers (once per remembered checkpoint, across nodes).
import type { Counter } from 'prom-client';
import type { Signet } from '../signet.js';
import { roleHas } from '../../src/lib/shared/permissions.js';
import { compareCheckpoints, type CheckpointPosition } from '../../src/lib/shared/checkpoint.js';
import { planOutreach } from '../outreach/plan.js';
import { combinePlans } from '../store/plan.js';
import { CommandFailure } from '../errors.js';
import { currentCheckpoint } from './chain.js';
import { openCheckpoint } from './checkpointNote.js';
import { CheckpointRecord, type RecordedCheckpoint } from './checkpointRecord.js';

export const ROLLBACK_ACTION = 'audit.rollbackDetected';
const WATCH_ACTOR = { type: 'system' as const, id: 'audit-watch', name: 'Audit rollback watch' };

export type WatchVerdict =
  | { status: 'ok' }
  | { status: 'rolledBack' | 'forked'; remembered: CheckpointPosition; redis: CheckpointPosition | null };

export interface AuditWatch {
  readonly record: CheckpointRecord;
  /**
   * Compares the organization's head in Redis with this node's record: learns it when it extends
   * the record, raises the alarm when it is lower. `seen` is a checkpoint note just read, or one
   * this node just signed (it saves a read when it simply extends the record). Never throws:
   * failures are logged.
   */
  observe(orgId: string, seen?: string | RecordedCheckpoint | null): Promise<WatchVerdict>;
  /** The highest checkpoint this node has seen for the organization. */
  remembered(orgId: string): Promise<RecordedCheckpoint | null>;
  /** Checks every organization in the record now (the timer does this every interval). */
  checkAll(): Promise<void>;
  close(): Promise<void>;
}

export interface AuditWatchOptions {
  alarms: Counter<'org'>;
  intervalMs: number;
}

export function startAuditWatch(signet: Signet, { alarms, intervalMs }: AuditWatchOptions): AuditWatch {
  const { redis, keys, auditKey, config, logger } = signet;
  const record = new CheckpointRecord(config.auditCheckpointDir, config.SIGNET_REDIS_PREFIX, auditKey.publicKey);
  /** The highest checkpoint learned per organization (ahead of the file between writes). */
  const learned = new Map<string, RecordedCheckpoint>();
  /** When each organization's record was last appended to; newer checkpoints wait for the next tick. */
  const lastWritten = new Map<string, number>();
  const unwritten = new Set<string>();
  /** The remembered checkpoint each organization's alarm was raised for (once each). */
  const alarmed = new Map<string, string>();
  /** Observations of one organization run one after another. */
  const queues = new Map<string, Promise<unknown>>();

  const position = (checkpoint: CheckpointPosition | null) => (checkpoint ? { size: checkpoint.size, hash: checkpoint.hash } : null);

  async function remembered(orgId: string): Promise<RecordedCheckpoint | null> {
    const fromFile = await record.highest(orgId);
    const inMemory = learned.get(orgId) ?? null;
    return fromFile && (!inMemory || fromFile.size > inMemory.size) ? fromFile : inMemory;
  }

  async function persist(orgId: string, force = false): Promise<void> {
    const checkpoint = learned.get(orgId);
    if (!checkpoint) return;
    if (!force && Date.now() - (lastWritten.get(orgId) ?? 0) < intervalMs) {
      unwritten.add(orgId);
      return;
    }
    unwritten.delete(orgId);
    lastWritten.set(orgId, Date.now());
    await record.append(orgId, checkpoint);
  }

  async function learn(orgId: string, checkpoint: RecordedCheckpoint): Promise<void> {
    learned.set(orgId, checkpoint);
    alarmed.delete(orgId);
    await persist(orgId);
  }

  function open(orgId: string, note: string | RecordedCheckpoint | null | undefined): RecordedCheckpoint | null {
    if (!note) return null;
    // Signed by this node a moment ago: nothing to verify.
    if (typeof note !== 'string') return note;
    const opened = openCheckpoint(note, auditKey.publicKey, orgId);
    return { size: opened.size, hash: opened.hash, note };
  }

  /** Whether Redis's chain still passes through `checkpoint` (its seal at that size holds the same head). */
  async function stillPassesThrough(orgId: string, checkpoint: RecordedCheckpoint): Promise<boolean> {
    return (await redis.hget(keys.auditSeals(orgId), String(checkpoint.size))) === checkpoint.hash;
  }

  async function judge(orgId: string, seen: string | RecordedCheckpoint | null | undefined): Promise<WatchVerdict> {
    const known = await remembered(orgId);
    const hint = open(orgId, seen);
    if (hint && (!known || compareCheckpoints(known, hint) === 'same')) {
      if (!known) await learn(orgId, hint);
      return { status: 'ok' };
    }
    if (hint && known && hint.size > known.size && (await stillPassesThrough(orgId, known))) {
      await learn(orgId, hint);
      return { status: 'ok' };
    }
    // Anything else is decided on a fresh read, made after everything this node learned: in a log
    // that only grows, a read made now cannot show less than what was learned before.
    const current = open(orgId, await currentCheckpoint(redis, keys, auditKey, config.publicUrl, orgId));
    if (!known) {
      if (current) await learn(orgId, current);
      return { status: 'ok' };
    }
    const order = current ? compareCheckpoints(known, current) : 'older';
    if (order === 'same') {
      alarmed.delete(orgId);
      return { status: 'ok' };
    }
    if (order === 'newer' && (await stillPassesThrough(orgId, known))) {
      await learn(orgId, current!);
      return { status: 'ok' };
    }
    const verdict: WatchVerdict = { status: order === 'older' ? 'rolledBack' : 'forked', remembered: position(known)!, redis: position(current) };
    await alarm(orgId, verdict, known);
    return verdict;
  }

  async function alarm(orgId: string, verdict: Exclude<WatchVerdict, { status: 'ok' }>, known: RecordedCheckpoint): Promise<void> {
    const key = `${known.size}:${known.hash}`;
    if (alarmed.get(orgId) === key) return;
    alarmed.set(orgId, key);
    alarms.inc({ org: orgId });
    logger.error(
      { orgId, detected: verdict.status, remembered: verdict.remembered, redis: verdict.redis, record: record.path(orgId) },
      verdict.status === 'rolledBack'
        ? 'audit log rollback detected: Redis holds fewer audit entries than a signed checkpoint this node has seen'
        : 'audit log rollback detected: Redis holds another audit chain than the signed checkpoint this node has seen (rolled back and rewritten)',
    );
    await notifyAuditViewers(signet, orgId, verdict, key).catch((error: unknown) =>
      logger.warn({ err: error, orgId }, 'the audit rollback notification could not be written'),
    );
  }

  function observe(orgId: string, seen?: string | RecordedCheckpoint | null): Promise<WatchVerdict> {
    const previous = queues.get(orgId) ?? Promise.resolve();
    const next = previous.then(() => judge(orgId, seen)).catch((error: unknown) => {
      logger.warn({ err: error, orgId }, 'audit checkpoint not checked');
      return { status: 'ok' } as WatchVerdict;
    });
    queues.set(orgId, next);
    void next.finally(() => {
      if (queues.get(orgId) === next) queues.delete(orgId);
    });
    return next;
  }

  async function checkAll(): Promise<void> {
    const orgIds = new Set([...learned.keys(), ...(await record.orgIds())]);
    for (const orgId of orgIds) {
      await observe(orgId);
      if (unwritten.has(orgId)) await persist(orgId, true).catch((error: unknown) => logger.warn({ err: error, orgId }, 'audit checkpoint not recorded'));
    }
  }

  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = checkAll()
      .catch((error: unknown) => logger.warn({ err: error }, 'audit checkpoints not checked'))
      .finally(() => {
        running = null;
      });
  }, intervalMs);
  timer.unref();

  return {
    record,
    observe,
    remembered,
    checkAll,
    async close() {
      clearInterval(timer);
      await running;
      await Promise.allSettled([...queues.values()]);
      for (const orgId of [...unwritten]) await persist(orgId, true).catch(() => {});
    },
  };
}

/**
 * Tells the organization's audit viewers (members whose role has audit:read), with an audit entry
 * in the same commit. Once per remembered checkpoint across nodes: the first node's commit sets the
 * marker the others' commits expect to be absent.
 */
async function notifyAuditViewers(
  signet: Signet,
  orgId: string,
  verdict: Exclude<WatchVerdict, { status: 'ok' }>,
  markerValue: string,
): Promise<void> {
  const { store } = signet;
  const last = await store.rollbackAlarms.last(orgId);
  if (last === markerValue) return;
  const viewers = (await store.members.list(orgId)).filter((member) => member.kind === 'user' && roleHas(member.role, 'audit:read'));
  const shows = verdict.redis ? `${verdict.redis.size} entries` : 'no validly signed head';
  const body =
    verdict.status === 'rolledBack'
      ? `Redis shows ${shows}, but a node saw a signed checkpoint of ${verdict.remembered.size} entries: newer entries were removed. Run \`signet audit verify\` and check Redis access.`
      : `Redis shows another chain than the signed checkpoint of ${verdict.remembered.size} entries a node saw: the log was rolled back and rewritten. Run \`signet audit verify\` and check Redis access.`;
  // In their inbox and by email: a log in Redis that cannot be trusted is worth hearing of outside it.
  const note = { kind: 'audit.rollback', title: 'Audit log rollback detected', body, link: '/audit' };
  const outreach = await planOutreach(signet, { orgId, people: viewers.map((member) => ({ member, note })) });
  const watch = signet.acting({ orgId, actor: WATCH_ACTOR, source: { via: 'system' }, action: ROLLBACK_ACTION });
  try {
    await watch.commit({
      target: { type: 'auditLog', id: orgId, name: 'audit log' },
      changes: { entries: { before: verdict.remembered.size, after: verdict.redis?.size ?? null } },
      outcome: 'failed',
      reason: body,
      ...combinePlans(store.rollbackAlarms.raise(orgId, last, markerValue), { expect: [], ops: outreach.ops, events: outreach.events }),
    });
  } catch (error) {
    // Another node raised this alarm first.
    if (error instanceof CommandFailure && error.concurrentChange) return;
    throw error;
  }
  await outreach.afterCommit();
}
