// Who hears about a signing request's change (SPEC §5). Defaults, from the first seed:
// administrators and the owner — completed and re-submitted requests; the submitter — every status
// change of their request; approvers — their approval is required, and when that need ends.
// Per signing policy each user may choose All (every change of every request), Default or None.
import type { NotificationLevel } from '../../src/lib/shared/entities.js';
import { STATUS_LABELS, type WorkflowStatus } from '../../src/lib/shared/signing.js';
import type { Signet } from '../signet.js';
import type { MemberRecord, PolicyRecord, RequestRecord } from '../store/records.js';
import type { PlannedEvent, WriteOp } from '../store/commit.js';
import { notificationWrites, type NotificationDraft } from '../notifications.js';

export type RequestChange = 'submitted' | 'resubmitted' | 'status';

function describe(request: RequestRecord): string {
  return `${request.projectSlug}/${request.artifact.fileName}`;
}

function draft(request: RequestRecord, kind: string, title: string, body: string): NotificationDraft {
  return { kind, title, body, link: `/requests/${request.id}`, policyId: request.policyId };
}

/** The notifications one change of a request causes, as writes and live events for the same commit. */
export async function requestNotifications(
  signet: Signet,
  before: RequestRecord | null,
  after: RequestRecord,
  policy: PolicyRecord | null,
  change: RequestChange,
  actorUserId: string | null,
): Promise<{ ops: WriteOp[]; events: PlannedEvent[] }> {
  const { redis, keys, repos } = signet;
  const members = (await repos.members(after.orgId)).filter((m) => m.kind === 'user');
  if (members.length === 0) return { ops: [], events: [] };
  const levels = await redis
    .pipeline(members.map((m) => ['hget', keys.notificationSettings(after.orgId, m.userId), after.policyId]))
    .exec();
  const levelOf = new Map<string, NotificationLevel>(
    members.map((m, i) => [m.userId, ((levels?.[i]?.[1] as string | null) ?? 'default') as NotificationLevel]),
  );
  const statusChanged = before?.workflowStatus !== after.workflowStatus;
  const chosen = new Map<string, NotificationDraft>();
  const offer = (member: MemberRecord | undefined, note: NotificationDraft) => {
    if (!member || levelOf.get(member.userId) === 'none' || chosen.has(member.userId)) return;
    chosen.set(member.userId, note);
  };
  const byId = new Map(members.map((m) => [m.userId, m]));
  const label = STATUS_LABELS[after.workflowStatus as WorkflowStatus] ?? after.workflowStatus;
  const statusNote = draft(
    after,
    'request.status',
    `${describe(after)}: ${label}`,
    after.failureReason ? `The signing request is now ${label.toLowerCase()}: ${after.failureReason}` : `The signing request is now ${label.toLowerCase()}.`,
  );

  // Approvers: their approval is required, or no longer is.
  const approvers = policy?.approvers ?? [];
  if (after.workflowStatus === 'WaitingForApproval' && before?.workflowStatus !== 'WaitingForApproval') {
    for (const userId of approvers) {
      if (userId === after.submitterId) continue;
      offer(byId.get(userId), draft(after, 'request.approvalRequired', `Your approval is required: ${describe(after)}`, `${after.submitterName} asks to sign ${after.artifact.fileName} with policy ${after.policySlug}.`));
    }
  }
  if (before?.workflowStatus === 'WaitingForApproval' && after.workflowStatus !== 'WaitingForApproval') {
    const decided = new Set([...after.approvals, ...after.denials].map((d) => d.userId));
    for (const userId of approvers) {
      if (decided.has(userId) || userId === actorUserId || userId === after.submitterId) continue;
      offer(byId.get(userId), draft(after, 'request.approvalNoLongerRequired', `No longer needs your approval: ${describe(after)}`, `The request is now ${label.toLowerCase()}.`));
    }
  }
  // The submitter: every status change of their request.
  if (statusChanged && after.submitterId !== actorUserId) offer(byId.get(after.submitterId), statusNote);
  // Administrators and the owner: completed and re-submitted requests.
  for (const member of members) {
    if (member.role !== 'owner' && member.role !== 'admin') continue;
    if (after.workflowStatus === 'Completed' && statusChanged) offer(member, draft(after, 'request.completed', `Signed: ${describe(after)}`, `Signed with policy ${after.policySlug}.`));
    if (change === 'resubmitted') offer(member, draft(after, 'request.resubmitted', `Re-submitted: ${describe(after)}`, `${after.submitterName} re-submitted a request under policy ${after.policySlug}.`));
  }
  // Anyone who asked for everything about this policy.
  if (statusChanged) {
    for (const member of members) if (levelOf.get(member.userId) === 'all' && member.userId !== actorUserId) offer(member, statusNote);
  }

  const recipients = [...chosen.keys()];
  if (recipients.length === 0) return { ops: [], events: [] };
  const unread = await redis.pipeline(recipients.map((userId) => ['scard', keys.notificationUnread(after.orgId, userId)])).exec();
  const ops: WriteOp[] = [];
  const events: PlannedEvent[] = [];
  recipients.forEach((userId, i) => {
    const writes = notificationWrites(keys, after.orgId, userId, chosen.get(userId)!, Number(unread?.[i]?.[1] ?? 0));
    ops.push(...writes.ops);
    events.push(writes.event);
  });
  return { ops, events };
}
