// Pre-approved windows at submission: a request of a submitter who holds an active grant of its
// policy skips manual approval, and records the grant (and its co-signers) as its approval. The
// grant's count goes down in the submission's own commit, which names the grant as read as its
// precondition: of two submissions racing for the last signature, one commits and the other reads
// the grant again (used up, so it waits for approval as usual). A revocation committed first is
// seen the same way.
import { grantApplies } from '../../src/lib/shared/approvals.js';
import type { Decision, PreApproval } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import type { GrantRecord, PolicyRecord, RequestRecord } from '../store/records.js';
import type { Loaded } from '../store/plan.js';
import type { PlannedEvent, Precondition, WriteOp } from '../store/commit.js';
import type { AuditChanges } from '../audit/entries.js';

/** The grant that pre-approves `submitterId`'s next request under `policy`, if any: the one closing soonest. */
export async function applicableGrant(signet: Signet, policy: PolicyRecord, submitterId: string, now = Date.now()): Promise<Loaded<GrantRecord> | null> {
  const usable = (await signet.store.grants.ofPolicy(policy.id)).filter((g) => grantApplies(g.value, policy, submitterId, now));
  usable.sort((a, b) => Date.parse(a.value.expiresAt!) - Date.parse(b.value.expiresAt!));
  return usable[0] ?? null;
}

export interface GrantUse {
  /** The request, pre-approved: its approvals are the grant's co-signers. */
  request: RequestRecord;
  expect: Precondition[];
  ops: WriteOp[];
  events: PlannedEvent[];
  changes: AuditChanges;
}

/** What using one signature of `grant` for `request` (waiting for approval, not yet committed) writes. */
export function useGrant(signet: Signet, grant: Loaded<GrantRecord>, policy: PolicyRecord, request: RequestRecord): GrantUse {
  const used = grant.value.used + 1;
  const updated: GrantRecord = {
    ...grant.value,
    used,
    status: used >= grant.value.maxSignatures ? 'usedUp' : grant.value.status,
    version: grant.value.version + 1,
  };
  const backing = grant.value.cosigners.filter((c) => policy.approvers.includes(c.userId));
  const preApproval: PreApproval = {
    grantId: grant.value.id,
    cosigners: backing.map(({ userId, name }) => ({ userId, name })),
    signature: used,
    maxSignatures: grant.value.maxSignatures,
  };
  const approvals: Decision[] = backing.map((c) => ({
    userId: c.userId,
    name: c.name,
    comment: `pre-approved window ${grant.value.id} (signature ${used} of ${grant.value.maxSignatures})`,
    at: c.at,
  }));
  return {
    request: { ...request, approvals, preApproval, expiresAt: null },
    ...signet.store.grants.update(grant, updated),
    changes: {
      preApproval: { before: null, after: preApproval },
      grantRemaining: { before: grant.value.maxSignatures - grant.value.used, after: updated.maxSignatures - used },
    },
  };
}

/** Whether the grant a submission meant to use changed since it was read (so the submission may try again). */
export async function grantChanged(signet: Signet, grant: Loaded<GrantRecord>): Promise<boolean> {
  return signet.store.grants.changed(grant);
}
