// Every change of a signing request goes through here: the transition is checked against the
// lifecycle, and the request, its audit entry, its live event, its notifications and the deliveries
// it owes (mail, chat, webhooks) are written in one commit. Jobs (signing, expiry, deliveries) are
// queued after it commits; the reconcilers queue what a crash may have lost between the two.
import { STATUS_OF, TRANSITIONS, isFinalStatus, type WorkflowStatus } from '../../src/lib/shared/signing.js';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import type { PolicyRecord, RequestRecord } from '../store/records.js';
import type { Loaded } from '../store/repositories.js';
import { PreconditionFailed, type PlannedEvent, type Precondition, type WriteOp } from '../store/commit.js';
import { auditDraft, type AuditChanges, type AuditSource } from '../audit/entries.js';
import { changeEvent } from '../store/events.js';
import { conflict } from '../errors.js';
import { requestOutreach, type RequestChange } from './notify.js';
import { dashboardIndexOps } from '../store/dashboardIndexes.js';

export const REQUEST_READERS = ['p:signing:read'] as const;
const QUEUEING_WAIT_MS = 1000;

export function withStatus(request: RequestRecord, workflowStatus: WorkflowStatus, now = new Date()): RequestRecord {
  const status = STATUS_OF[workflowStatus];
  const final = isFinalStatus(status);
  return {
    ...request,
    workflowStatus,
    status,
    isFinalStatus: final,
    updatedAt: now.toISOString(),
    finishedAt: final ? now.toISOString() : null,
  };
}

export interface RequestChangeInput {
  before: Loaded<RequestRecord> | null;
  after: RequestRecord;
  policy: PolicyRecord | null;
  actor: AuditActor;
  /** The member behind the actor, so they are not notified of what they did themselves. */
  actorUserId: string | null;
  source: AuditSource;
  action: string;
  change?: RequestChange;
  comment?: string;
  expect?: Precondition[];
  ops?: WriteOp[];
  /** Further events of the same commit (a grant the submission used). */
  events?: PlannedEvent[];
  /** Further fields of the audit entry (what approved the request, when not people one by one). */
  changes?: AuditChanges;
}

export async function commitRequestChange(signet: Signet, input: RequestChangeInput): Promise<RequestRecord> {
  const { keys } = signet;
  const { before, policy } = input;
  const previous = before?.value ?? null;
  const after: RequestRecord = { ...input.after, version: (previous?.version ?? 0) + 1 };
  if (previous && previous.workflowStatus !== after.workflowStatus) {
    const allowed = TRANSITIONS[previous.workflowStatus as WorkflowStatus];
    if (!allowed.includes(after.workflowStatus as WorkflowStatus)) {
      throw conflict(`The request is ${previous.workflowStatus}; it cannot become ${after.workflowStatus}`, previous);
    }
  }
  const ops: WriteOp[] = [['set', keys.request(after.id), JSON.stringify(after)], ...(input.ops ?? [])];
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

  const changes: AuditChanges = {};
  if (previous?.workflowStatus !== after.workflowStatus) {
    changes.workflowStatus = { before: previous?.workflowStatus ?? null, after: after.workflowStatus };
  }
  if (input.comment !== undefined) changes.comment = { before: null, after: input.comment };
  if (after.failureReason && after.failureReason !== previous?.failureReason) changes.failureReason = { before: null, after: after.failureReason };
  if (!previous) {
    changes.artifact = { before: null, after: after.artifact };
    changes.policy = { before: null, after: after.policySlug };
    if (after.resubmittedFromId) changes.resubmittedFrom = { before: null, after: after.resubmittedFromId };
    if (after.signatureFormat) changes.signatureFormat = { before: null, after: after.signatureFormat };
  }
  // What was signed, how, and its timestamp (or why it has none) stay in the audit log.
  if (after.signature && !previous?.signature) changes.signature = { before: null, after: after.signature };
  Object.assign(changes, input.changes);

  const outreach = await requestOutreach(signet, previous, after, policy, input.change ?? 'status', input.actorUserId);
  try {
    await signet.apply({
      expect: [
        { key: keys.request(after.id), equals: before?.raw ?? null },
        ...(input.expect ?? []),
      ],
      ops: [...ops, ...outreach.ops],
      events: [
        changeEvent(after.orgId, 'signingRequest', previous ? 'updated' : 'created', after.id, after, [...REQUEST_READERS]),
        ...(input.events ?? []),
        ...outreach.events,
      ],
      audits: [
        auditDraft({
          orgId: after.orgId,
          actor: input.actor,
          action: input.action,
          target: { type: 'signingRequest', id: after.id, name: `${after.projectSlug}/${after.artifact.fileName}` },
          changes,
          source: input.source,
        }),
      ],
    });
  } catch (error) {
    if (error instanceof PreconditionFailed) {
      const current = error.precondition.key === keys.request(after.id) && error.current ? JSON.parse(error.current) : undefined;
      const failure = conflict('The signing request changed meanwhile; reload it', current);
      failure.concurrentChange = true;
      throw failure;
    }
    throw error;
  }

  const jobs = signet.jobs;
  const queued: Array<Promise<unknown>> = [outreach.afterCommit()];
  if (jobs) {
    // Queueing failures are not the caller's failure: the change is committed, and the
    // reconciler queues what is missing.
    const afterCommit = async () => {
      if (after.workflowStatus === 'QueuedForProcessing') await jobs.enqueueSigning(after);
      if (after.workflowStatus === 'WaitingForApproval' && previous?.workflowStatus !== 'WaitingForApproval') {
        await jobs.scheduleExpiry(after);
        if (after.escalation) await jobs.scheduleEscalation(after);
      }
    };
    // Bounded: the command's acknowledgement must not wait on a slow queue.
    queued.push(
      Promise.race([afterCommit(), new Promise((resolve) => setTimeout(resolve, QUEUEING_WAIT_MS).unref())]).catch((error) =>
        signet.logger.warn({ err: error, requestId: after.id }, 'queueing after commit failed; the reconciler will retry'),
      ),
    );
  }
  await Promise.all(queued);
  return after;
}
