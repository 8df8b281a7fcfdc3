// The one place that writes state: a change, its audit entries and its events go to Redis in a
// single Lua call (commit.lua), so there is never a change without its audit entry or the other
// way round. Broadcasting happens after this returns, i.e. after the write has committed.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { AuditEntry } from '../../src/lib/shared/entities.js';
import type { RedisKeys } from './keys.js';

const COMMIT_LUA = readFileSync(new URL('./commit.lua', import.meta.url), 'utf8');

export type WriteOp =
  | readonly ['set', key: string, value: string, expireMs?: number]
  | readonly ['del', key: string]
  | readonly ['sadd', key: string, member: string]
  | readonly ['srem', key: string, member: string]
  | readonly ['hset', key: string, field: string, value: string]
  | readonly ['hdel', key: string, field: string]
  | readonly ['zadd', key: string, score: number, member: string]
  | readonly ['zrem', key: string, member: string]
  | readonly ['pexpire', key: string, ms: number];

/** The stored value must be exactly `equals` (null: must not exist), or the commit is refused. */
export interface Precondition {
  key: string;
  equals: string | null;
  /** Compare a hash field instead of a string key. */
  field?: string;
}

/** Who receives an event: everybody in the org, holders of a permission, or one user. */
export type Audience = 'all' | `p:${string}` | `u:${string}`;

export type AuditDraft = Omit<AuditEntry, 'seq'>;

export interface PlannedEvent {
  orgId: string;
  kind: 'change' | 'notification';
  audience: Audience[];
  data: unknown;
}

export interface CommitPlan {
  expect?: Precondition[];
  ops?: WriteOp[];
  audits?: AuditDraft[];
  events?: PlannedEvent[];
}

export interface CommittedAudit {
  orgId: string;
  eventSeq: number;
  entry: AuditEntry;
}

export interface CommittedEvent extends PlannedEvent {
  seq: number;
}

export interface Committed {
  audits: CommittedAudit[];
  events: CommittedEvent[];
}

export class PreconditionFailed extends Error {
  constructor(
    readonly precondition: Precondition,
    readonly current: string | null,
  ) {
    super(`precondition failed on ${precondition.key}`);
  }
}

export const AUDIT_AUDIENCE: Audience[] = ['p:audit:read'];

type CommitClient = Redis & { signetCommit(plan: string): Promise<Array<string | number>> };

export function installCommitScript(redis: Redis): void {
  if (!('signetCommit' in redis)) redis.defineCommand('signetCommit', { numberOfKeys: 0, lua: COMMIT_LUA });
}

export async function commit(redis: Redis, keys: RedisKeys, retention: number, plan: CommitPlan): Promise<Committed> {
  installCommitScript(redis);
  const expect = plan.expect ?? [];
  const audits = plan.audits ?? [];
  const events = plan.events ?? [];
  const stream = (orgId: string) => ({
    seqKey: keys.eventSeq(orgId),
    eventsKey: keys.events(orgId),
    retention: String(retention),
  });
  const payload = {
    expect: expect.map((p) => [p.key, p.equals, p.field ?? null]),
    ops: (plan.ops ?? []).map((op) => op.map((part) => (typeof part === 'number' ? String(part) : part))),
    audits: audits.map((entry) => ({
      ...stream(entry.orgId),
      orgId: entry.orgId,
      auditSeqKey: keys.auditSeq(entry.orgId),
      auditKey: keys.audit(entry.orgId),
      unsealedKey: keys.auditUnsealed,
      audience: AUDIT_AUDIENCE.join(','),
      entry: JSON.stringify(entry),
      targetId: entry.target.id,
    })),
    events: events.map((event) => ({
      ...stream(event.orgId),
      kind: event.kind,
      audience: event.audience.join(','),
      data: JSON.stringify(event.data),
    })),
  };
  const reply = await (redis as CommitClient).signetCommit(JSON.stringify(payload));
  if (reply[0] === 'CONFLICT') {
    const precondition = expect[Number(reply[1]) - 1]!;
    const current = reply[2] === '' ? null : String(reply[2]);
    throw new PreconditionFailed(precondition, current);
  }
  let at = 2;
  const committedAudits = audits.map((draft) => {
    const seq = Number(reply[at++]);
    const eventSeq = Number(reply[at++]);
    return { orgId: draft.orgId, eventSeq, entry: { ...draft, seq } };
  });
  const committedEvents = events.map((event) => ({ ...event, seq: Number(reply[at++]) }));
  return { audits: committedAudits, events: committedEvents };
}
