// Who hears about a signing request's change (SPEC §5), on every channel. Defaults, from the first
// seed: administrators and the owner — completed and re-submitted requests; the submitter — every
// status change of their request; approvers — their approval is required, and when that need ends.
// Per signing policy each user may choose All (every change of every request), Default or None;
// the same choice decides their inbox and their email (which they may also turn off altogether).
// The project's chat channels hear when approval is needed and when a request ends; its webhooks
// hear the status changes they subscribed to.
import type { NotificationLevel } from '../../src/lib/shared/entities.js';
import { STATUS_LABELS, type WorkflowStatus } from '../../src/lib/shared/signing.js';
import type { Signet } from '../signet.js';
import type { MemberRecord, PolicyRecord, RequestRecord } from '../store/records.js';
import type { NotificationDraft } from '../notifications.js';
import { planOutreach, type Outreach } from '../outreach/plan.js';
import type { ChatMessage, ChatTone } from '../outreach/chat.js';
import type { Fact } from '../outreach/mail.js';

export type RequestChange = 'submitted' | 'resubmitted' | 'status';

function describe(request: RequestRecord): string {
  return `${request.projectSlug}/${request.artifact.fileName}`;
}

function draft(request: RequestRecord, kind: string, title: string, body: string): NotificationDraft {
  return { kind, title, body, link: `/requests/${request.id}`, policyId: request.policyId };
}

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** What mail and chat show about a request (nothing secret: no description or parameters). */
function requestFacts(request: RequestRecord): Fact[] {
  const facts: Fact[] = [
    { label: 'Project', value: request.projectSlug },
    { label: 'Policy', value: request.policySlug },
    { label: 'Artifact', value: `${request.artifact.fileName} (${sizeText(request.artifact.size)})` },
    { label: 'SHA-256', value: request.artifact.sha256 },
    { label: 'Submitter', value: request.submitterName },
    { label: 'Status', value: STATUS_LABELS[request.workflowStatus as WorkflowStatus] ?? request.workflowStatus },
  ];
  if (request.requiredApprovals > 0) facts.push({ label: 'Approvals', value: `${request.approvals.length} of ${request.requiredApprovals} required` });
  if (request.origin?.verified && request.origin.repository) {
    facts.push({ label: 'Origin', value: [request.origin.repository, request.origin.branch, request.origin.commit?.slice(0, 12)].filter(Boolean).join(' · ') });
  }
  return facts;
}

/** The project's chat message for this change: approval is needed, or the request ended. */
function chatMessage(signet: Signet, before: RequestRecord | null, after: RequestRecord): ChatMessage | null {
  if (before?.workflowStatus === after.workflowStatus) return null;
  const link = { label: 'Open in Signet', url: `${signet.config.publicUrl}/requests/${after.id}` };
  const facts = requestFacts(after);
  if (after.workflowStatus === 'WaitingForApproval') {
    return {
      title: `Approval needed: ${describe(after)}`,
      text: `${after.submitterName} asks to sign ${after.artifact.fileName} with policy ${after.policySlug}; ${after.requiredApprovals} approval${after.requiredApprovals === 1 ? '' : 's'} needed.`,
      facts,
      link: { ...link, label: 'Review in Signet' },
      tone: 'attention',
    };
  }
  if (!after.isFinalStatus) return null;
  const label = STATUS_LABELS[after.workflowStatus as WorkflowStatus] ?? after.workflowStatus;
  const tone: ChatTone = after.workflowStatus === 'Completed' ? 'good' : after.workflowStatus === 'Canceled' ? 'neutral' : 'bad';
  const denial = after.denials.at(-1);
  const text =
    after.workflowStatus === 'Completed' ? `Signed with policy ${after.policySlug}.`
    : denial && after.workflowStatus === 'Denied' ? `Denied by ${denial.name}: ${denial.comment}`
    : after.failureReason ? `${label}: ${after.failureReason}`
    : `The request is ${label.toLowerCase()}.`;
  return { title: `${after.workflowStatus === 'Completed' ? 'Signed' : label}: ${describe(after)}`, text, facts, link, tone };
}

/**
 * Everything one change of a request tells people and places: inbox notifications with their live
 * events, mail, chat messages and webhook calls — for the same commit (see planOutreach).
 */
export async function requestOutreach(
  signet: Signet,
  before: RequestRecord | null,
  after: RequestRecord,
  policy: PolicyRecord | null,
  change: RequestChange,
  actorUserId: string | null,
): Promise<Outreach> {
  const { redis, keys, repos } = signet;
  const statusChanged = before?.workflowStatus !== after.workflowStatus;
  const chat = chatMessage(signet, before, after);
  const channels = {
    orgId: after.orgId,
    facts: requestFacts(after),
    chat: chat ? { projectId: after.projectId, key: `${after.id}-${after.workflowStatus}`, message: chat } : undefined,
    webhooksFor: statusChanged ? after : undefined,
  };
  const members = (await repos.members(after.orgId)).filter((m) => m.kind === 'user');
  if (members.length === 0) return planOutreach(signet, channels);
  const levels = await redis
    .pipeline(members.map((m) => ['hget', keys.notificationSettings(after.orgId, m.userId), after.policyId]))
    .exec();
  const levelOf = new Map<string, NotificationLevel>(
    members.map((m, i) => [m.userId, ((levels?.[i]?.[1] as string | null) ?? 'default') as NotificationLevel]),
  );
  const chosen = new Map<string, { member: MemberRecord; note: NotificationDraft }>();
  const offer = (member: MemberRecord | undefined, note: NotificationDraft) => {
    if (!member || levelOf.get(member.userId) === 'none' || chosen.has(member.userId)) return;
    chosen.set(member.userId, { member, note });
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
  return planOutreach(signet, { ...channels, people: [...chosen.values()] });
}
