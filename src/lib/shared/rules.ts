// Per-object rules: who may decide on, cancel or re-submit which signing request, change or remove
// which member, see and revoke which API key, be named in a policy. Pure functions of what both
// sides have, so the server's handlers enforce exactly what the console shows. The permission
// matrix (permissions.ts) says what a role may do at all; these say to which object.
//
// A rule answers null when the act is allowed, or the reason it is not (the server turns each
// reason into its error; a page may say why a button is missing).
import type { ApiKey, Member, Organization, SigningPolicy, SigningRequest } from './entities.js';
import { ASSIGNABLE_ROLES, roleHas, type AssignableRole, type StoredRole } from './permissions.js';
import { CANCELABLE } from './signing.js';
import { eligibleApprovers } from './approvals.js';

/** Who acts, as far as the rules are concerned (the server's actor and the console's `me` both say). */
export interface Acting {
  /** The identity whose membership applies (for an API key: its owner); null: none (not loaded yet). */
  userId: string | null;
  role: StoredRole;
}

/** Owners and admins administer the organization's requests (cancel or re-submit anyone's). */
export function isAdministrator(role: StoredRole): boolean {
  return role === 'owner' || role === 'admin';
}

type RequestFacts = Pick<SigningRequest, 'workflowStatus' | 'submitterId' | 'approvals' | 'denials' | 'escalation'>;

export type DecisionRefusal = 'notWaiting' | 'ownRequest' | 'policyGone' | 'notApprover' | 'backupNotYet' | 'alreadyDecided';

/**
 * Whether `userId` may approve or deny `request` now (SPEC §4): it waits for approval, they did not
 * submit it, the request's policy (as it is now; null: deleted) names them an approver, and they
 * have not decided on it yet.
 */
export function decisionRefusal(
  request: RequestFacts,
  policy: Pick<SigningPolicy, 'approvers' | 'backupApprovers'> | null,
  userId: string | null,
): DecisionRefusal | null {
  if (request.workflowStatus !== 'WaitingForApproval') return 'notWaiting';
  if (userId === null || request.submitterId === userId) return 'ownRequest';
  if (!policy) return 'policyGone';
  // Backup approvers decide like approvers once the request was escalated (approvals.ts).
  if (!eligibleApprovers(policy, request).includes(userId)) return (policy.backupApprovers ?? []).includes(userId) ? 'backupNotYet' : 'notApprover';
  if ([...request.approvals, ...request.denials].some((decision) => decision.userId === userId)) return 'alreadyDecided';
  return null;
}

export type BreakGlassRefusal = 'notWaiting' | 'ownRequest' | 'policyGone' | 'notAllowed';

/**
 * Whether `userId` may approve `request` alone, with a reason (break-glass, SPEC §4): it waits for
 * approval, they did not submit it, and its policy (as it is now; null: deleted) allows it. Who may
 * break the glass at all (owners and admins, never the support user) is a permission check
 * (approvals.ts BREAK_GLASS_PERMISSIONS).
 */
export function breakGlassRefusal(
  request: Pick<SigningRequest, 'workflowStatus' | 'submitterId'>,
  policy: Pick<SigningPolicy, 'allowBreakGlass'> | null,
  userId: string | null,
): BreakGlassRefusal | null {
  if (request.workflowStatus !== 'WaitingForApproval') return 'notWaiting';
  if (userId === null || request.submitterId === userId) return 'ownRequest';
  if (!policy) return 'policyGone';
  if (!policy.allowBreakGlass) return 'notAllowed';
  return null;
}

/** Only the submitter or an administrator cancels or re-submits a request. */
const mayHandle = (request: Pick<SigningRequest, 'submitterId'>, by: Acting) => request.submitterId === by.userId || isAdministrator(by.role);

export type CancelRefusal = 'notSubmitterOrAdmin' | 'notCancelable';

/** Whether `by` may cancel `request`: theirs (or they administer), and processing has not started. */
export function cancelRefusal(request: Pick<SigningRequest, 'submitterId' | 'workflowStatus'>, by: Acting): CancelRefusal | null {
  if (!mayHandle(request, by)) return 'notSubmitterOrAdmin';
  if (!(CANCELABLE as readonly string[]).includes(request.workflowStatus)) return 'notCancelable';
  return null;
}

export type ResubmitRefusal = 'notSubmitterOrAdmin' | 'notFinal';

/** Whether `by` may re-submit `request`: theirs (or they administer), and finished. */
export function resubmitRefusal(request: Pick<SigningRequest, 'submitterId' | 'isFinalStatus'>, by: Acting): ResubmitRefusal | null {
  if (!mayHandle(request, by)) return 'notSubmitterOrAdmin';
  if (!request.isFinalStatus) return 'notFinal';
  return null;
}

/** Whether `userId` may submit under `policy`: it names them a submitter. */
export function maySubmitUnder(policy: Pick<SigningPolicy, 'submitters'>, userId: string | null): boolean {
  return userId !== null && policy.submitters.includes(userId);
}

/** Who a policy may name as submitter: whoever's role may submit. */
export function maySubmit(member: Pick<Member, 'role'>): boolean {
  return roleHas(member.role, 'signing:submit');
}

/** Who a policy may name as approver: people (never CI users) whose role may approve. */
export function mayApprove(member: Pick<Member, 'role' | 'kind'>): boolean {
  return roleHas(member.role, 'signing:approve') && member.kind === 'user';
}

export type MemberChangeRefusal = 'self' | 'owner';

/**
 * Whether a member who manages the team may change the role of, or remove, `member`: never
 * themselves, never the owner (ownership moves only through an operator).
 */
export function memberChangeRefusal(member: Pick<Member, 'userId' | 'role'>, byUserId: string | null): MemberChangeRefusal | null {
  if (member.userId === byUserId) return 'self';
  if (member.role === 'owner') return 'owner';
  return null;
}

/** The roles `member` may be given: a CI user is a member or a viewer, never an admin. */
export function assignableRolesFor(member: Pick<Member, 'kind'>): readonly AssignableRole[] {
  return member.kind === 'ciUser' ? ASSIGNABLE_ROLES.filter((role) => role !== 'admin') : ASSIGNABLE_ROLES;
}

/**
 * Whether `by` may see and revoke `key`: their own, and with team:manage those of CI users
 * (`ownerIsCiUser`: the key's owner is one).
 */
export function mayManageApiKey(key: Pick<ApiKey, 'ownerId'>, ownerIsCiUser: boolean, by: { userId: string | null; managesTeam: boolean }): boolean {
  return key.ownerId === by.userId || (ownerIsCiUser && by.managesTeam);
}

/**
 * In an Open Source organization, project metadata and certificates are the instance operators' to
 * manage, who act there as the organization's support user (SPEC §3).
 */
export function operatorsOnly(org: Pick<Organization, 'openSource'>, actorType: string): boolean {
  return org.openSource && actorType !== 'support';
}
