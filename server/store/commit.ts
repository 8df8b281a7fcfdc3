// The one place that writes state: a change, its audit entries and its events go to Redis in a
// single Lua call (commit.lua), so there is never a change without its audit entry or the other
// way round. The same call publishes what it committed; every node delivers that to its sockets
// (server/realtime/committedEvents.ts), so nothing is broadcast before it is written.
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

/** Which live sockets a change of access concerns (every field given must match). */
export interface AccessScope {
  orgId?: string;
  userId?: string;
  /** Sockets authenticated with one of these API keys. */
  keyIds?: readonly string[];
  sessionHash?: string;
  /** Support sockets of this organization. */
  support?: boolean;
}

/**
 * A commit that takes access away (or changes it) says so in what it publishes: every node re-checks
 * the sockets in scope before it delivers anything published after it.
 */
export interface AccessChange {
  scopes: AccessScope[];
  /** The socket whose command made the change: should it lose access, it gets its acknowledgement first. */
  callerSocketId?: string;
}

export interface CommitPlan {
  expect?: Precondition[];
  ops?: WriteOp[];
  audits?: AuditDraft[];
  events?: PlannedEvent[];
  access?: AccessChange;
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

const AUDIT_AUDIENCE: Audience[] = ['p:audit:read'];

type CommitClient = Redis & { signetCommit(...args: string[]): Promise<Array<string | number>> };

/** A script argument as Redis gets it; anything else is refused before anything is sent (ioredis would send ''). */
function argument(part: unknown, what: string): string {
  if (typeof part === 'string') return part;
  if (typeof part === 'number' && Number.isFinite(part)) return String(part);
  throw new Error(`commit: ${what} is ${String(part)}, not a string or a finite number`);
}

function json(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new Error(`commit: ${what} has no JSON form`);
  return text;
}

/** A JSON object's text: the script adds "seq" to it as sockets receive it. */
function jsonObject(value: unknown, what: string): string {
  const text = json(value, what);
  if (text[0] !== '{') throw new Error(`commit: ${what} is not a JSON object`);
  return text;
}

/** A word of a published item's header (an organization id, audiences): no spaces or line breaks. */
function headerWord(value: unknown, what: string): string {
  const text = argument(value, what);
  if (/[\s]/.test(text)) throw new Error(`commit: ${what} has white space in it`);
  return text;
}

/** Defines the commit command on a client; done when the client is made (see createRedisClient). */
export function installCommitScript(redis: Redis): void {
  if (!('signetCommit' in redis)) redis.defineCommand('signetCommit', { numberOfKeys: 0, lua: COMMIT_LUA });
}

/** Where a commit publishes what it committed, and who it says committed it (none: not published, as when tests fill a log). */
export interface CommitChannel {
  channel: string;
  /** The committing Signet instance (its commitOrigin), so it knows its own commits when they come back. */
  origin: string;
}

export async function commit(redis: Redis, keys: RedisKeys, retention: number, plan: CommitPlan, publishTo?: CommitChannel): Promise<Committed> {
  if (!('signetCommit' in redis)) throw new Error('commit() needs a client made by createRedisClient, which defines the commit script up front');
  const expect = plan.expect ?? [];
  const ops = plan.ops ?? [];
  const audits = plan.audits ?? [];
  const events = plan.events ?? [];
  // Published with the commit's events: a change of access with none would have nothing to order against.
  if (plan.access && audits.length + events.length === 0) throw new Error('commit: a change of access comes with an audit entry or event');
  // In the order commit.lua takes them (see its header). Large values (stored records, entries,
  // event data) are arguments of their own, never escaped inside another JSON text.
  const args: string[] = [
    String(expect.length),
    String(ops.length),
    String(audits.length),
    String(events.length),
    argument(retention, 'the retention'),
    keys.auditUnsealed,
    publishTo?.channel ?? '',
    publishTo?.origin ?? '',
    plan.access ? json(plan.access, 'the change of access') : '',
  ];
  for (const p of expect) args.push(argument(p.key, 'a precondition key'), p.field ?? '', p.equals === null ? '0' : '=', p.equals ?? '');
  for (const op of ops) {
    if (op[0] === 'set') args.push('set', argument(op[1], 'set key'), argument(op[2], 'set value'), op[3] === undefined ? '' : argument(op[3], 'set expiry'));
    else for (const part of op) args.push(argument(part, `${op[0]} argument`));
  }
  // Each channel item's header starts with what is known here; the script adds the numbers it assigns.
  const audience = AUDIT_AUDIENCE.join(',');
  for (const entry of audits) {
    const orgId = headerWord(entry.orgId, 'an audit entry organization');
    args.push(
      keys.eventSeq(orgId),
      keys.events(orgId),
      keys.auditSeq(orgId),
      keys.audit(orgId),
      keys.auditByTarget(orgId, argument(entry.target.id, 'an audit target id')),
      audience,
      orgId,
      `audit ${orgId}`,
      jsonObject(entry, 'an audit entry'),
    );
  }
  for (const event of events) {
    const orgId = headerWord(event.orgId, 'an event organization');
    const eventAudience = headerWord(event.audience.join(','), 'an event audience');
    args.push(
      keys.eventSeq(orgId),
      keys.events(orgId),
      event.kind,
      eventAudience,
      `${event.kind} ${orgId}`,
      jsonObject(event.data, 'event data'),
    );
  }
  const reply = await (redis as CommitClient).signetCommit(...args);
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
