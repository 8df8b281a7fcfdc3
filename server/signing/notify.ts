// Who hears about a signing request's change (SPEC §5), on every channel. Defaults, from the first
// seed: administrators and the owner — completed and re-submitted requests; the submitter — every
// status change of their request; approvers — their approval is required, and when that need ends.
// Per signing policy each user may choose All (every change of every request), Default or None;
// the same choice decides their inbox and their email (which they may also turn off altogether).
// The project's chat channels hear when approval is needed and when a request ends; its webhooks
// hear the status changes they subscribed to.
import { STATUS_LABELS, type WorkflowStatus } from '../../src/lib/shared/signing.js';
import type { Signet } from '../signet.js';
import type { MemberRecord, PolicyRecord, RequestRecord } from '../store/records.js';
import type { NotificationDraft } from '../store/notifications.js';
import { planOutreach, type Outreach, type OutreachPerson } from '../outreach/plan.js';
import type { ChatMessage, ChatTone } from '../outreach/chat.js';
import type { Fact } from '../outreach/mail.js';

/**
 * What happened to the request: besides its status, a nudge of online approvers halfway through
 * its policy's escalation wait, the escalation to backup approvers, and a break-glass approval.
 */
export type RequestChange = 'submitted' | 'resubmitted' | 'status' | 'nudged' | 'escalated' | 'brokeGlass';

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
  if (request.preApproval) facts.push({ label: 'Pre-approved', value: `by grant ${request.preApproval.grantId} (${request.preApproval.cosigners.map((c) => c.name).join(', ')})` });
  if (request.breakGlass) facts.push({ label: 'Break-glass', value: `${request.breakGlass.name}: ${request.breakGlass.reason}` });
  if (request.origin?.verified && request.origin.repository) {
    facts.push({ label: 'Origin', value: [request.origin.repository, request.origin.branch, request.origin.commit?.slice(0, 12)].filter(Boolean).join(' · ') });
  }
  return facts;
}

/** The project's chat message for this change: approval is needed, the request ended, was escalated, or broke the glass. */
function chatMessage(signet: Signet, before: RequestRecord | null, after: RequestRecord, change: RequestChange): ChatMessage | null {
  const link = { label: 'Open in Signet', url: `${signet.config.publicUrl}/requests/${after.id}` };
  const facts = requestFacts(after);
  if (change === 'brokeGlass' && after.breakGlass) {
    return {
      title: `Break-glass: ${describe(after)} approved by ${after.breakGlass.name} alone`,
      text: `Reason: ${after.breakGlass.reason}`,
      facts,
      link,
      tone: 'bad',
    };
  }
  if (change === 'escalated' && after.escalation) {
    const backups = after.escalation.backups.map((b) => b.name).join(', ') || 'nobody (no backup approver can decide)';
    return {
      title: `Escalated: ${describe(after)} has waited ${after.escalation.afterMinutes} minutes`,
      text: `Still ${after.approvals.length} of ${after.requiredApprovals} approvals. Backup approvers told: ${backups}.`,
      facts,
      link: { ...link, label: 'Review in Signet' },
      tone: 'attention',
    };
  }
  if (before?.workflowStatus === after.workflowStatus) return null;
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
    const statusChanged = before?.workflowStatus !== after.workflowStatus;
  const chat = chatMessage(signet, before, after, change);
  const chatKey = change === 'brokeGlass' || change === 'escalated' ? change : after.workflowStatus;
  const channels = {
    orgId: after.orgId,
    facts: requestFacts(after),
    chat: chat ? { projectId: after.projectId, key: `${after.id}-${chatKey}`, message: chat } : undefined,
    webhooksFor: statusChanged ? after : undefined,
  };
  const members = (await signet.store.members.list(after.orgId)).filter((m) => m.kind === 'user');
  if (members.length === 0) return planOutreach(signet, channels);
  const levelOf = await signet.store.notifications.levels(after.orgId, members.map((m) => m.userId), after.policyId);
  const chosen = new Map<string, OutreachPerson>();
  /** Urgent notes reach people whatever their level for the policy (and by email even if they turned it off). */
  const offer = (member: MemberRecord | undefined, note: NotificationDraft, how: { urgent?: boolean; inboxOnly?: boolean } = {}) => {
    if (!member || (levelOf.get(member.userId) === 'none' && !how.urgent) || chosen.has(member.userId)) return;
    chosen.set(member.userId, { member, note, ...how });
  };
  const byId = new Map(members.map((m) => [m.userId, m]));

  // Said first, so that what else this change would tell the same person gives way to it.
  if (change === 'brokeGlass' && after.breakGlass) {
    const glass = after.breakGlass;
    const note = draft(after, 'request.breakGlass', `Break-glass: ${describe(after)} approved by ${glass.name} alone`, `${glass.name} approved this request alone, without the policy's ${after.requiredApprovals} approval${after.requiredApprovals === 1 ? '' : 's'}. Reason: ${glass.reason}`);
    const told = new Set([...(policy?.approvers ?? []), ...(policy?.backupApprovers ?? [])]);
    for (const member of members) {
      if (member.userId === actorUserId) continue;
      if (told.has(member.userId) || member.role === 'owner' || member.role === 'admin') offer(member, note, { urgent: true });
    }
  }
  if (change === 'escalated' && after.escalation) {
    const note = draft(after, 'request.escalated', `Your approval is needed as a backup: ${describe(after)}`, `${after.submitterName}'s request has waited ${after.escalation.afterMinutes} minutes for approval (${after.approvals.length} of ${after.requiredApprovals}). As a backup approver of policy ${after.policySlug} you may approve or deny it now.`);
    for (const backup of after.escalation.backups) offer(byId.get(backup.userId), note, { urgent: true });
  }
  if (change === 'nudged' && after.escalation) {
    const note = draft(after, 'request.nudge', `Still waiting for your approval: ${describe(after)}`, `${after.submitterName}'s request is halfway through its ${after.escalation.afterMinutes}-minute wait; then the backup approvers of policy ${after.policySlug} are told.`);
    for (const nudged of after.escalation.nudged) offer(byId.get(nudged.userId), note, { inboxOnly: true });
  }
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
