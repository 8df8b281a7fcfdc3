// The two indexes the dashboard's numbers come from (server/signing/statistics.ts reads them): requests
// by the time they reached a final status, one sorted set per status, and the waits for approval by
// the time of the decision that ended them. Each holds one member per request, so writing it twice
// counts once. Every request change writes them in its own commit; migration 2 filled them for
// requests stored before.
import type { RedisKeys } from './keys.js';
import type { WriteOp } from './commit.js';
import type { RequestRecord } from './records.js';

/**
 * A decided request's wait for approval: the decision that ended it (a denial, or the approval that
 * made the quorum) and its member in keys.approvalWaits (`policyId:waitMs:requestId`); null if
 * nobody decided (no approval needed, or canceled or expired while waiting).
 */
export function approvalWait(request: RequestRecord): { decidedAt: number; member: string } | null {
  if (request.requiredApprovals <= 0) return null;
  const decisions = request.denials.length > 0 ? request.denials : request.approvals.length >= request.requiredApprovals ? request.approvals : [];
  if (decisions.length === 0) return null;
  const decidedAt = Math.max(...decisions.map((decision) => Date.parse(decision.at)));
  const waitMs = Math.max(0, decidedAt - Date.parse(request.createdAt));
  return { decidedAt, member: `${request.policyId}:${waitMs}:${request.id}` };
}

/** The index writes a request change owes: its final status, and the decision that ended its wait. */
export function dashboardIndexOps(keys: RedisKeys, previous: RequestRecord | null, after: RequestRecord): WriteOp[] {
  const ops: WriteOp[] = [];
  if (after.isFinalStatus && after.finishedAt && !previous?.isFinalStatus) {
    ops.push(['zadd', keys.requestsFinished(after.orgId, after.status), Date.parse(after.finishedAt), after.id]);
  }
  // Only a request that leaves the wait counts (not one that never waited, however it was approved).
  const wait = previous?.workflowStatus === 'WaitingForApproval' && after.workflowStatus !== 'WaitingForApproval' ? approvalWait(after) : null;
  if (wait) ops.push(['zadd', keys.approvalWaits(after.orgId), wait.decidedAt, wait.member]);
  return ops;
}
