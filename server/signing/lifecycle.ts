// Every change of a signing request goes through here: the transition is checked against the
// lifecycle, and the request, its audit entry, its live event, its notifications and the deliveries
// it owes (mail, chat, webhooks) are written in one commit. Jobs (signing, expiry, deliveries) are
// queued after it commits; the reconcilers queue what a crash may have lost between the two.
import { STATUS_OF, TRANSITIONS, isFinalStatus, type WorkflowStatus } from '../../src/lib/shared/signing.js';
import type { Signet } from '../signet.js';
import type { PolicyRecord, RequestRecord } from '../store/records.js';
import { combinePlans, type Loaded, type WritePlan } from '../store/plan.js';
import type { IdempotencyScope } from '../store/requests.js';
import { type ActingContext } from '../store/acting.js';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { AuditChanges } from '../audit/entries.js';
import { CommandFailure, conflict } from '../errors.js';
import { requestOutreach, type RequestChange } from './notify.js';

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

/** The acting context of the node's own work on an organization (the signing worker, expiry, escalation, certificate expiry, OpenPGP keys). */
export function systemActing(signet: Signet, orgId: string, actor: AuditActor, action?: string): ActingContext {
  return signet.acting({ orgId, actor, source: { via: 'system' }, ...(action === undefined ? {} : { action }) });
}

export interface RequestChangeInput {
  before: Loaded<RequestRecord> | null;
  after: RequestRecord;
  policy: PolicyRecord | null;
  /** The member behind the actor, so they are not notified of what they did themselves. */
  actorUserId: string | null;
  /** Defaults to the acting context's action (a command's name). */
  action?: string;
  change?: RequestChange;
  comment?: string;
  /** The Idempotency-Key a new request claims. */
  idempotency?: IdempotencyScope;
  /** What else the same commit writes (a grant the submission used). */
  also?: WritePlan;
  /** Further fields of the audit entry (what approved the request, when not people one by one). */
  changes?: AuditChanges;
}

/**
 * Commits a request's change through `acting` (who acts, from where): the request with its indexes
 * (the store's plan), its audit entry, its live event, its notifications and the deliveries it owes.
 */
export async function commitRequestChange(signet: Signet, acting: Pick<ActingContext, 'commit'>, input: RequestChangeInput): Promise<RequestRecord> {
  const { before, policy } = input;
  const previous = before?.value ?? null;
  const after: RequestRecord = { ...input.after, version: (previous?.version ?? 0) + 1 };
  if (previous && previous.workflowStatus !== after.workflowStatus) {
    const allowed = TRANSITIONS[previous.workflowStatus as WorkflowStatus];
    if (!allowed.includes(after.workflowStatus as WorkflowStatus)) {
      throw conflict(`The request is ${previous.workflowStatus}; it cannot become ${after.workflowStatus}`, previous);
    }
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
  const request = signet.store.requests.change(before, after, input.idempotency);
  // The request's own precondition, write and event come first; then what goes with it.
  const plan = combinePlans(request, input.also ?? { expect: [], ops: [], events: [] }, { expect: [], ops: outreach.ops, events: outreach.events });
  try {
    await acting.commit({
      action: input.action,
      target: { type: 'signingRequest', id: after.id, name: `${after.projectSlug}/${after.artifact.fileName}` },
      changes,
      ...plan,
    });
  } catch (error) {
    if (error instanceof CommandFailure && error.concurrentChange) {
      // Said as before, with the request as it is now (when it is the request that changed).
      const current = (await signet.store.requests.get(after.orgId, after.id))?.value;
      const failure = conflict('The signing request changed meanwhile; reload it', current && current.version !== previous?.version ? current : undefined);
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
