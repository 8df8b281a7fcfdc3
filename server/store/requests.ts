// Signing requests: a record per request and its indexes — the organization's requests by creation
// time, the waiting set, the node-wide expiry/escalation/processing schedules (members `org:request`),
// the policy's signed requests, the dashboard's indexes and a submission's Idempotency-Key. Reads are
// scoped to an organization; `change` plans a request's write with every index it moves.
import type { Redis } from 'ioredis';
import type { AuditEntry } from '../../src/lib/shared/entities.js';
import type { RedisKeys } from './keys.js';
import type { RequestRecord } from './records.js';
import type { Precondition, WriteOp } from './commit.js';
import { changeEvent, REQUEST_READERS } from './events.js';
import { inOrg, parseLoaded, type Loaded, type WritePlan } from './plan.js';
import { dashboardIndexOps } from './dashboardIndexes.js';
import { parseStoredEntry } from '../audit/query.js';

/** How long an Idempotency-Key keeps naming the request it made. */
const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

/** The node-wide schedules a reconciler reads: requests whose expiry, escalation step or signing job may have been lost. */
export type RequestSchedule = 'expiring' | 'escalating' | 'queued';

/** An entry of a schedule: the request, and the member that names it there. */
export interface Scheduled {
  orgId: string;
  requestId: string;
  member: string;
}

/** Who submitted with an Idempotency-Key: an API key, or a user. */
export interface IdempotencyScope {
  orgId: string;
  scope: string;
  key: string;
}

export function requestStore(redis: Redis, keys: RedisKeys) {
  const scheduleKey: Record<RequestSchedule, string> = {
    expiring: keys.signingExpiring,
    escalating: keys.signingEscalating,
    queued: keys.signingQueued,
  };
  const records = async (ids: string[]) => {
    if (ids.length === 0) return [];
    const raws = await redis.mget(...ids.map(keys.request));
    return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as RequestRecord);
  };
  const idempotencyKey = ({ orgId, scope, key }: IdempotencyScope) => keys.idempotency(orgId, scope, key);
  const get = async (orgId: string, requestId: string): Promise<Loaded<RequestRecord> | null> =>
    inOrg(parseLoaded<RequestRecord>(await redis.get(keys.request(requestId))), orgId);

  return {
    get,
    /**
     * Request ids newest first, strictly after the cursor (creation ms, then id: requests created in
     * the same millisecond are ordered by id, so none is skipped or repeated across pages).
     */
    async idsAfter(orgId: string, cursor: { ms: number; id: string } | undefined, offset: number, count: number) {
      const rows = await redis.zrevrangebyscore(keys.requests(orgId), cursor ? cursor.ms : '+inf', '-inf', 'WITHSCORES', 'LIMIT', offset, count);
      const ids: Array<{ id: string; ms: number }> = [];
      for (let i = 0; i < rows.length; i += 2) ids.push({ id: rows[i]!, ms: Number(rows[i + 1]) });
      return {
        scanned: ids.length,
        ids: cursor ? ids.filter(({ id, ms }) => ms < cursor.ms || id < cursor.id) : ids,
      };
    },
    /** The organization's requests of these ids that exist. */
    async byIds(orgId: string, ids: string[]): Promise<RequestRecord[]> {
      return (await records(ids)).filter((request) => request.orgId === orgId);
    },
    async waiting(orgId: string): Promise<RequestRecord[]> {
      return records(await redis.smembers(keys.requestsWaiting(orgId)));
    },
    /** The newest completed request of a policy (of this organization) submitted before `beforeMs`. */
    async previousSigned(orgId: string, policyId: string, beforeMs: number): Promise<RequestRecord | null> {
      const [id] = await redis.zrevrangebyscore(keys.policySigned(policyId), `(${beforeMs}`, '-inf', 'LIMIT', 0, 1);
      return id ? ((await get(orgId, id))?.value ?? null) : null;
    },
    /** A request's activity trail: its slice of the organization's audit log. */
    async activity(orgId: string, requestId: string): Promise<AuditEntry[]> {
      const seqs = await redis.zrange(keys.auditByTarget(orgId, requestId), '0', '-1');
      if (seqs.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const seq of seqs) pipeline.zrangebyscore(keys.audit(orgId), seq, seq);
      const rows = (await pipeline.exec()) ?? [];
      return rows.flatMap(([, members], i) => ((members as string[]) ?? []).map((member) => parseStoredEntry(member, Number(seqs[i]))));
    },
    /** The request an Idempotency-Key made before, if any. */
    async idempotentId(scope: IdempotencyScope): Promise<string | null> {
      return redis.get(idempotencyKey(scope));
    },
    /** The requests in a schedule due before `beforeMs` (at most `limit`). */
    async due(schedule: RequestSchedule, beforeMs: number, limit: number): Promise<Scheduled[]> {
      const members = await redis.zrangebyscore(scheduleKey[schedule], '-inf', beforeMs, 'LIMIT', 0, limit);
      return members.map((member) => {
        const [orgId, requestId] = member.split(':') as [string, string];
        return { orgId, requestId, member };
      });
    },
    /** Drops a request from a schedule its record has left (housekeeping of the reconciler, not a change). */
    async unschedule(schedule: RequestSchedule, entry: Scheduled): Promise<void> {
      await redis.zrem(scheduleKey[schedule], entry.member);
    },
    /**
     * A request written over the version read (`before`: null for a new one), with every index its
     * move from `before` to `after` touches, and its change event. `idempotency`: the key a new
     * request claims (refused if another request claimed it first).
     */
    change(before: Loaded<RequestRecord> | null, after: RequestRecord, idempotency?: IdempotencyScope): WritePlan {
      const previous = before?.value ?? null;
      const expect: Precondition[] = [{ key: keys.request(after.id), equals: before?.raw ?? null }];
      const ops: WriteOp[] = [['set', keys.request(after.id), JSON.stringify(after)]];
      if (idempotency) {
        expect.push({ key: idempotencyKey(idempotency), equals: null });
        ops.push(['set', idempotencyKey(idempotency), after.id, IDEMPOTENCY_TTL_MS]);
      }
      if (!previous) ops.push(['zadd', keys.requests(after.orgId), Date.parse(after.createdAt), after.id]);
      ops.push(...dashboardIndexOps(keys, previous, after));
      // Indexes by status: waiting for approval, and queued or processing (for the reconciler).
      const orgAndId = `${after.orgId}:${after.id}`;
      if (after.workflowStatus === 'WaitingForApproval') {
        ops.push(['sadd', keys.requestsWaiting(after.orgId), after.id]);
        if (after.expiresAt) ops.push(['zadd', keys.signingExpiring, Date.parse(after.expiresAt), orgAndId]);
      } else if (previous?.workflowStatus === 'WaitingForApproval') {
        ops.push(['srem', keys.requestsWaiting(after.orgId), after.id], ['zrem', keys.signingExpiring, orgAndId]);
      }
      // Escalation: the next step of a waiting request whose policy escalates, by when it is due.
      const escalation = after.escalation;
      if (after.workflowStatus === 'WaitingForApproval' && escalation && !escalation.escalatedAt) {
        ops.push(['zadd', keys.signingEscalating, Date.parse(escalation.nudgedAt ? escalation.escalateAt : escalation.nudgeAt), orgAndId]);
      } else if (previous?.escalation && !previous.escalation.escalatedAt) {
        ops.push(['zrem', keys.signingEscalating, orgAndId]);
      }
      // The policy's signed requests, by submission: what the next request is compared with.
      if (after.workflowStatus === 'Completed' && previous?.workflowStatus !== 'Completed') {
        ops.push(['zadd', keys.policySigned(after.policyId), Date.parse(after.createdAt), after.id]);
      }
      if (after.workflowStatus === 'QueuedForProcessing' || after.workflowStatus === 'Processing') {
        ops.push(['zadd', keys.signingQueued, Date.now(), orgAndId]);
      } else if (previous?.workflowStatus === 'QueuedForProcessing' || previous?.workflowStatus === 'Processing') {
        ops.push(['zrem', keys.signingQueued, orgAndId]);
      }
      return {
        expect,
        ops,
        events: [changeEvent(after.orgId, 'signingRequest', previous ? 'updated' : 'created', after.id, after, REQUEST_READERS)],
      };
    },
    /** A removed policy's signed requests (the requests themselves stay). */
    forgetPolicy(policyId: string): WritePlan {
      return { expect: [], ops: [['del', keys.policySigned(policyId)]], events: [] };
    },
  };
}

export type RequestStore = ReturnType<typeof requestStore>;
