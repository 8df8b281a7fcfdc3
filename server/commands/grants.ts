// grant.*: pre-approved windows (SPEC §4 "Approving without stalling"). Approvers of a policy grant
// a submitter "up to N signatures within T hours"; for a k-of-n policy, k distinct approvers co-sign
// it before it opens. Granting is approving ahead of time, so it needs signing:approve and a place
// among the policy's approvers; revoking, which only takes approval away, is also open to whoever
// may edit the policy (policy:write: owners and admins). A submitter never grants (or co-signs a
// window for) themselves. Submissions use the windows in server/signing/grants.ts.
import { cosignersNeeded, grantState } from '../../src/lib/shared/approvals.js';
import type { GrantRecord, MemberRecord, PolicyRecord } from '../store/records.js';
import type { NotificationDraft } from '../store/notifications.js';
import { combinePlans, type Loaded } from '../store/plan.js';
import { planOutreach } from '../outreach/plan.js';
import type { Fact } from '../outreach/mail.js';
import { randomId } from '../auth/secrets.js';
import { defineCommand, type CommandContext } from './define.js';
import { conflict, forbidden, invalid, notFound, retryOnConcurrentChange } from '../errors.js';
import { policyInOrg } from './policies.js';

/** How many of a policy's grants grant.list returns (newest first): ended ones fall off the end. */
const LISTED = 100;

/** A grant of this organization and its policy as they are now, each with what a commit names as its precondition. */
async function grantWithPolicy({ actor, store }: CommandContext, grantId: string) {
  const stored = await store.grants.get(actor.orgId, grantId);
  if (!stored) throw notFound(`Grant ${grantId}`);
  const grant = stored.value;
  const loadedPolicy = await store.policies.get(actor.orgId, grant.policyId);
  if (!loadedPolicy) throw conflict(`The signing policy ${grant.policySlug} was deleted, and its grants with it`);
  return { stored, grant, loadedPolicy, policy: loadedPolicy.value };
}

function describeWindow(grant: GrantRecord): string {
  return `up to ${grant.maxSignatures} signature${grant.maxSignatures === 1 ? '' : 's'} within ${grant.hours} hour${grant.hours === 1 ? '' : 's'}`;
}

function target(grant: GrantRecord) {
  return { type: 'grant', id: grant.id, name: `${grant.projectSlug}/${grant.policySlug} → ${grant.granteeName}` };
}

/** What the audit entry of a grant's change keeps. */
function summary(grant: GrantRecord) {
  return {
    grantee: grant.granteeName,
    maxSignatures: grant.maxSignatures,
    hours: grant.hours,
    cosigners: grant.cosigners.map((c) => c.name),
    requiredCosigners: grant.requiredCosigners,
    status: grant.status,
    expiresAt: grant.expiresAt,
  };
}

/** The grant's change: the record, its audit entry, its live event and the notes it owes, in one commit. */
async function commitGrant(
  context: CommandContext,
  change: { before: Loaded<GrantRecord> | null; after: GrantRecord; policy: Loaded<PolicyRecord>; tell: Array<{ member: MemberRecord | undefined; note: NotificationDraft }>; comment?: string },
) {
  const { signet, actor, store } = context;
  const { before, after } = change;
  const facts: Fact[] = [
    { label: 'Project', value: after.projectSlug },
    { label: 'Policy', value: after.policySlug },
    { label: 'Submitter', value: after.granteeName },
    { label: 'Window', value: describeWindow(after) },
    { label: 'Co-signed by', value: `${after.cosigners.map((c) => c.name).join(', ')} (${after.cosigners.length} of ${after.requiredCosigners})` },
  ];
  const people = change.tell.flatMap(({ member, note }) => (member && member.userId !== actor.userId ? [{ member, note }] : []));
  const outreach = await planOutreach(signet, { orgId: actor.orgId, people, facts });
  const was = before ? summary(before.value) : null;
  const now = summary(after);
  const changes = Object.fromEntries(
    Object.entries(now)
      .filter(([field, value]) => JSON.stringify(was?.[field as keyof typeof now] ?? null) !== JSON.stringify(value))
      .map(([field, value]) => [field, { before: was?.[field as keyof typeof now] ?? null, after: value }]),
  );
  if (change.comment) changes.comment = { before: null, after: change.comment };
  await context.commit({
    target: target(after),
    changes,
    ...combinePlans(
      before ? store.grants.update(before, after) : store.grants.create(after),
      // The policy as it was read: a grant is checked against its approvers and submitters of now.
      store.policies.unchanged(change.policy),
      { expect: [], ops: outreach.ops, events: outreach.events },
    ),
  });
  await outreach.afterCommit();
  return after;
}

function opened(grant: GrantRecord, now: Date): GrantRecord {
  return { ...grant, status: 'active', activatedAt: now.toISOString(), expiresAt: new Date(now.getTime() + grant.hours * 3600_000).toISOString() };
}

function link(grant: GrantRecord): string {
  return `/projects/${grant.projectId}#policy-${grant.policyId}`;
}

export const listGrants = defineCommand({
  name: 'grant.list',
  async handler(context, input) {
    const policy = (await policyInOrg(context, input.policyId)).value;
    const grants = (await context.store.grants.ofPolicy(policy.id)).map((g) => g.value);
    return grants.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, LISTED);
  },
});

export const proposeGrant = defineCommand({
  name: 'grant.propose',
  async handler(context, input) {
    const { actor, store, signet } = context;
    const loadedPolicy = await policyInOrg(context, input.policyId);
    const policy = loadedPolicy.value;
    if (!policy.approvers.includes(actor.userId)) throw forbidden(`You are not an approver of signing policy ${policy.slug}; only its approvers grant pre-approved windows`);
    if (input.granteeId === actor.userId) throw forbidden('A submitter never grants themselves a pre-approved window');
    if (policy.requiredApprovals === 0) throw invalid('policyId', `signing policy ${policy.slug} needs no approval: there is nothing to pre-approve`);
    const members = new Map((await store.members.list(actor.orgId)).map((m) => [m.userId, m]));
    const grantee = members.get(input.granteeId);
    if (!grantee) throw invalid('granteeId', `${input.granteeId} is not a member of this organization`);
    if (!policy.submitters.includes(grantee.userId)) throw invalid('granteeId', `${grantee.name} is not a submitter of signing policy ${policy.slug}`);
    const project = (await store.projects.get(actor.orgId, policy.projectId))?.value;
    if (!project) throw notFound(`Project ${policy.projectId}`);
    const now = new Date();
    const proposed: GrantRecord = {
      id: `gr_${randomId()}`,
      orgId: actor.orgId,
      projectId: project.id,
      projectSlug: project.slug,
      policyId: policy.id,
      policySlug: policy.slug,
      granteeId: grantee.userId,
      granteeName: grantee.name,
      maxSignatures: input.maxSignatures,
      used: 0,
      hours: input.hours,
      requiredCosigners: cosignersNeeded(policy),
      cosigners: [{ userId: actor.userId, name: actor.name, at: now.toISOString() }],
      status: 'proposed',
      comment: input.comment,
      createdAt: now.toISOString(),
      // A proposal waits for its co-signers as long as a request waits for its approvers.
      proposalExpiresAt: new Date(now.getTime() + signet.config.SIGNET_REQUEST_EXPIRY_HOURS * 3600_000).toISOString(),
      activatedAt: null,
      expiresAt: null,
      revokedBy: null,
      revokedAt: null,
      revokeReason: null,
      version: 1,
    };
    const grant = proposed.requiredCosigners === 1 ? opened(proposed, now) : proposed;
    const tell =
      grant.status === 'active'
        ? [{ member: grantee, note: activeNote(grant) }]
        : policy.approvers
            .filter((id) => id !== grantee.userId)
            .map((id) => ({
              member: members.get(id),
              note: {
                kind: 'grant.proposed',
                title: `Co-sign a pre-approved window for ${grant.granteeName}?`,
                body: `${actor.name} proposes ${describeWindow(grant)} for ${grant.granteeName} under policy ${grant.policySlug}; it opens once ${grant.requiredCosigners} approvers have signed it.${grant.comment ? ` "${grant.comment}"` : ''}`,
                link: link(grant),
                policyId: grant.policyId,
              },
            }));
    return commitGrant(context, { before: null, after: grant, policy: loadedPolicy, tell, comment: input.comment || undefined });
  },
});

function activeNote(grant: GrantRecord): NotificationDraft {
  return {
    kind: 'grant.active',
    title: `Pre-approved window open: ${grant.projectSlug}/${grant.policySlug}`,
    body: `${grant.granteeName}'s next ${grant.maxSignatures} request${grant.maxSignatures === 1 ? '' : 's'} under policy ${grant.policySlug} are pre-approved until ${grant.expiresAt} (co-signed by ${grant.cosigners.map((c) => c.name).join(', ')}).`,
    link: link(grant),
    policyId: grant.policyId,
  };
}

export const cosignGrant = defineCommand({
  name: 'grant.cosign',
  async handler(context, input) {
    const { actor, store } = context;
    return retryOnConcurrentChange(async () => {
      const { stored, grant, loadedPolicy, policy } = await grantWithPolicy(context, input.grantId);
      if (!policy.approvers.includes(actor.userId)) throw forbidden(`You are not an approver of signing policy ${policy.slug}; only its approvers co-sign its windows`);
      if (grant.granteeId === actor.userId) throw forbidden('A submitter never co-signs a pre-approved window for themselves');
      const state = grantState(grant);
      if (state !== 'proposed') throw conflict(`The grant is ${state}; only a proposed grant can be co-signed`, grant);
      if (grant.cosigners.some((c) => c.userId === actor.userId)) throw conflict('You have co-signed this grant already; another approver must', grant);
      const now = new Date();
      const cosigners = [...grant.cosigners, { userId: actor.userId, name: actor.name, at: now.toISOString() }];
      // Co-signatures count while their approvers still are approvers (the policy may have changed).
      const backing = cosigners.filter((c) => policy.approvers.includes(c.userId)).length;
      const signed: GrantRecord = { ...grant, cosigners, version: grant.version + 1 };
      const after = backing >= cosignersNeeded(policy) ? opened(signed, now) : signed;
      // Who is told (only when the window opens) is read only then.
      const members = after.status === 'active' ? new Map((await store.members.list(actor.orgId)).map((m) => [m.userId, m])) : null;
      const tell = members ? [grant.granteeId, ...grant.cosigners.map((c) => c.userId)].map((id) => ({ member: members.get(id), note: activeNote(after) })) : [];
      return commitGrant(context, { before: stored, after, policy: loadedPolicy, tell });
    });
  },
});

export const revokeGrant = defineCommand({
  name: 'grant.revoke',
  async handler(context, input) {
    const { actor, store } = context;
    return retryOnConcurrentChange(async () => {
      const { stored, grant, loadedPolicy, policy } = await grantWithPolicy(context, input.grantId);
      if (!policy.approvers.includes(actor.userId) && !actor.permissions.has('policy:write')) {
        throw forbidden(`Only an approver of signing policy ${policy.slug}, or whoever may edit it (policy:write), revokes its windows`);
      }
      const state = grantState(grant);
      if (state !== 'proposed' && state !== 'active') throw conflict(`The grant is ${state} already`, grant);
      const after: GrantRecord = {
        ...grant,
        status: 'revoked',
        revokedBy: { userId: actor.userId, name: actor.name },
        revokedAt: new Date().toISOString(),
        revokeReason: input.reason || null,
        version: grant.version + 1,
      };
      const members = new Map((await store.members.list(actor.orgId)).map((m) => [m.userId, m]));
      const note: NotificationDraft = {
        kind: 'grant.revoked',
        title: `Pre-approved window revoked: ${grant.projectSlug}/${grant.policySlug}`,
        body: `${actor.name} revoked ${grant.granteeName}'s window (${describeWindow(grant)}, ${grant.used} used)${input.reason ? `: ${input.reason}` : ''}. Requests from now on wait for approval.`,
        link: link(grant),
        policyId: grant.policyId,
      };
      const tell = [grant.granteeId, ...grant.cosigners.map((c) => c.userId)].map((id) => ({ member: members.get(id), note }));
      return commitGrant(context, { before: stored, after, policy: loadedPolicy, tell, comment: input.reason || undefined });
    });
  },
});
