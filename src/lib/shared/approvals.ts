// Approving without stalling (SPEC §4): pre-approved windows, escalation to backup approvers,
// break-glass, and what an approver sees. Pure rules shared by the server (every check) and the
// console (what it shows and offers).
import type { ApprovalGrant, Origin, SigningPolicy, SigningRequest } from './entities.js';
import type { Permission } from './permissions.js';
import type { PreviousSigned } from './results.js';

/**
 * Break-glass is an administrator's act (SPEC §4: "an admin approves alone"). It is approving, so it
 * needs signing:approve; and it needs policy:write, which only owners and admins hold: whoever holds
 * it could rewrite the policy to approve alone anyway, and break-glass does that in the open, for
 * one request, marked and announced.
 */
export const BREAK_GLASS_PERMISSIONS: readonly Permission[] = ['signing:approve', 'policy:write'];
/** A break-glass reason is read by every approver and kept in the audit log: a sentence, not "ok". */
export const BREAK_GLASS_REASON_MIN = 20;

export const GRANT_LIMITS = { maxSignatures: 1000, maxHours: 24 * 30 } as const;

export type GrantState = 'proposed' | 'active' | 'usedUp' | 'expired' | 'lapsed' | 'revoked';

/** Where a grant stands at `now`: expiry is read from its times, so it needs no timer. */
export function grantState(grant: ApprovalGrant, now = Date.now()): GrantState {
  if (grant.status === 'revoked') return 'revoked';
  if (grant.status === 'usedUp' || grant.used >= grant.maxSignatures) return 'usedUp';
  if (grant.status === 'proposed') return Date.parse(grant.proposalExpiresAt) <= now ? 'lapsed' : 'proposed';
  return grant.expiresAt && Date.parse(grant.expiresAt) <= now ? 'expired' : 'active';
}

/** Whether a grant is still worth showing among the current ones (proposed or active). */
export function grantIsOpen(grant: ApprovalGrant, now = Date.now()): boolean {
  const state = grantState(grant, now);
  return state === 'proposed' || state === 'active';
}

/** How many approvers co-sign a grant: as many as the policy needs for one request (at least one). */
export function cosignersNeeded(policy: Pick<SigningPolicy, 'requiredApprovals'>): number {
  return Math.max(1, policy.requiredApprovals);
}

/**
 * Whether a grant stands in for approval of `submitterId`'s next request under `policy` (as it is
 * now): active, not used up or expired, for that submitter, and still backed by as many of the
 * policy's current approvers as the policy now requires.
 */
export function grantApplies(grant: ApprovalGrant, policy: SigningPolicy, submitterId: string, now = Date.now()): boolean {
  if (grant.policyId !== policy.id || grant.granteeId !== submitterId) return false;
  if (grantState(grant, now) !== 'active') return false;
  const backing = grant.cosigners.filter((c) => policy.approvers.includes(c.userId) && c.userId !== submitterId).length;
  return backing >= cosignersNeeded(policy);
}

/**
 * Who may approve or deny a waiting request now: the policy's approvers, and once the request has
 * been escalated, its backup approvers too (counted like approvers: distinct people, one decision each).
 */
export function eligibleApprovers(policy: Pick<SigningPolicy, 'approvers' | 'backupApprovers'>, request: Pick<SigningRequest, 'escalation'>): string[] {
  const backups = request.escalation?.escalatedAt ? (policy.backupApprovers ?? []) : [];
  return [...policy.approvers, ...backups.filter((id) => !policy.approvers.includes(id))];
}

/**
 * A link to the changes between two builds' commits, where the repository's host is known to have
 * a compare view of that shape (GitHub, GitLab).
 */
export function compareUrl(previous: Origin | null | undefined, current: Origin | null | undefined): string | null {
  if (!previous?.commit || !current?.commit || previous.commit === current.commit) return null;
  const repo = current.repositoryUrl?.replace(/\.git$/, '').replace(/\/+$/, '');
  if (!repo || repo !== previous.repositoryUrl?.replace(/\.git$/, '').replace(/\/+$/, '')) return null;
  if (!/^[0-9a-f]{7,64}$/i.test(previous.commit) || !/^[0-9a-f]{7,64}$/i.test(current.commit)) return null;
  let host: string;
  try {
    const url = new URL(repo);
    if (url.protocol !== 'https:') return null;
    host = url.hostname;
  } catch {
    return null;
  }
  if (host === 'github.com') return `${repo}/compare/${previous.commit}...${current.commit}`;
  if (host === 'gitlab.com') return `${repo}/-/compare/${previous.commit}...${current.commit}`;
  return null;
}

export function summarizePrevious(previous: SigningRequest, current: SigningRequest): PreviousSigned {
  const from = previous.origin?.commit ?? null;
  const to = current.origin?.commit ?? null;
  return {
    id: previous.id,
    artifact: previous.artifact,
    origin: previous.origin,
    submitterName: previous.submitterName,
    createdAt: previous.createdAt,
    finishedAt: previous.finishedAt,
    commitRange: from && to && from !== to ? { from, to } : null,
    compareUrl: compareUrl(previous.origin, current.origin),
  };
}
