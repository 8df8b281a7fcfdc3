// policy.*, buildSystem.*: who may submit and approve what, signed with which certificate, and
// which build systems are trusted to vouch for a submission's origin. Both need policy:write
// (admins): a member who could edit a policy could make themselves its approver.
import { roleHas } from '../../src/lib/shared/permissions.js';
import { mayApprove, maySubmit } from '../../src/lib/shared/rules.js';
import type { BuildSystemRecord, PolicyRecord, ProjectRecord } from '../store/records.js';
import { randomId } from '../auth/secrets.js';
import { diffFields } from '../audit/entries.js';
import { assertOutboundUrl, assertVersion, commitRemoval, commitUpdate, defineCommand, type CommandContext } from './define.js';
import { conflict, invalid, notFound } from '../errors.js';
import { dropUndefined, projectInOrg } from './projects.js';


/** Checks a policy's references and rules; returns it with Open Source rules applied. */
async function validatedPolicy(context: CommandContext, policy: PolicyRecord, project: ProjectRecord): Promise<PolicyRecord> {
  const { actor, store } = context;
  const certificate = await store.certificates.get(actor.orgId, policy.certificateId);
  if (!certificate) throw invalid('certificateId', `no certificate ${policy.certificateId} in this organization`);
  if (certificate.value.disabled) throw invalid('certificateId', `certificate "${certificate.value.name}" is disabled`);
  const members = new Map((await store.members.list(actor.orgId)).map((m) => [m.userId, m]));
  for (const field of ['submitters', 'approvers'] as const) {
    for (const userId of policy[field]) {
      const member = members.get(userId);
      if (!member) throw invalid(field, `${userId} is not a member of this organization`);
      if (field === 'submitters' ? maySubmit(member) : mayApprove(member)) continue;
      const permission = field === 'submitters' ? 'signing:submit' : 'signing:approve';
      if (!roleHas(member.role, permission)) throw invalid(field, `${member.name} is a ${member.role}, who cannot ${field === 'submitters' ? 'submit' : 'approve'}`);
      throw invalid('approvers', `${member.name} is a CI user; only people approve`);
    }
  }
  if (new Set(policy.submitters).size !== policy.submitters.length) throw invalid('submitters', 'lists someone twice');
  if (new Set(policy.approvers).size !== policy.approvers.length) throw invalid('approvers', 'lists someone twice');
  // Backup approvers: people who may approve, besides the approvers, told after the wait.
  const backups = policy.backupApprovers ?? [];
  for (const userId of backups) {
    const member = members.get(userId);
    if (!member) throw invalid('backupApprovers', `${userId} is not a member of this organization`);
    if (member.kind === 'ciUser') throw invalid('backupApprovers', `${member.name} is a CI user; only people approve`);
    if (!roleHas(member.role, 'signing:approve')) throw invalid('backupApprovers', `${member.name} is a ${member.role}, who cannot approve`);
    if (policy.approvers.includes(userId)) throw invalid('backupApprovers', `${member.name} is an approver already`);
  }
  if (new Set(backups).size !== backups.length) throw invalid('backupApprovers', 'lists someone twice');
  if (backups.length > 0 && !policy.escalateAfterMinutes) throw invalid('escalateAfterMinutes', 'say after how many minutes of waiting the backup approvers are told');
  if (policy.escalateAfterMinutes && backups.length === 0) throw invalid('backupApprovers', 'name the backup approvers a waiting request escalates to');
  if (policy.requiredApprovals > policy.approvers.length) {
    throw invalid('requiredApprovals', `needs ${policy.requiredApprovals} approvals but names ${policy.approvers.length} approvers`);
  }
  // Open Source organizations: origin verification is always on.
  const originVerification = policy.originVerification || actor.org.openSource;
  if (originVerification && !project.repositoryUrl) {
    throw invalid('originVerification', `project ${project.slug} has no repository URL to verify origins against`);
  }
  // Checked again before each use: a host may resolve elsewhere later.
  if (policy.tsaUrl) {
    await assertOutboundUrl(context.signet, 'tsaUrl', policy.tsaUrl);
  }
  return { ...policy, originVerification };
}

export async function policyInOrg({ actor, store }: CommandContext, policyId: string) {
  const stored = await store.policies.get(actor.orgId, policyId);
  if (!stored) throw notFound(`Signing policy ${policyId}`);
  return stored;
}

export const listPolicies = defineCommand({
  name: 'policy.list',
  async handler(context, input) {
    const projectIds = input.projectId
      ? [(await projectInOrg(context, input.projectId)).value.id]
      : (await context.store.projects.list(context.actor.orgId)).map((p) => p.id);
    const policies = (await Promise.all(projectIds.map((id) => context.store.policies.ofProject(id)))).flat();
    return policies.sort((a, b) => a.slug.localeCompare(b.slug));
  },
});

export const createPolicy = defineCommand({
  name: 'policy.create',
  async handler(context, input) {
    const { actor, store, commit } = context;
    const project = (await projectInOrg(context, input.projectId)).value;
    if (await store.policies.slugTaken(project.id, input.slug)) {
      throw conflict(`Project ${project.slug} has a signing policy "${input.slug}" already`);
    }
    const { projectId: _projectId, ...fields } = input;
    const policy = await validatedPolicy(
      context,
      { id: randomId(), orgId: actor.orgId, projectId: project.id, ...fields, createdAt: new Date().toISOString(), version: 1 },
      project,
    );
    await commit({
      target: { type: 'policy', id: policy.id, name: `${project.slug}/${policy.slug}` },
      changes: diffFields(null, policy),
      ...store.policies.create(policy),
    });
    return policy;
  },
});

export const updatePolicy = defineCommand({
  name: 'policy.update',
  async handler(context, input) {
    const { store } = context;
    const stored = await policyInOrg(context, input.policyId);
    const policy = stored.value;
    assertVersion(`Signing policy ${policy.slug}`, input.version, policy, policy);
    const project = (await projectInOrg(context, policy.projectId)).value;
    const { policyId: _id, version: _version, ...fields } = input;
    const updated = await validatedPolicy(context, { ...policy, ...dropUndefined(fields), version: policy.version + 1 }, project);
    if (updated.slug !== policy.slug && (await store.policies.slugTaken(project.id, updated.slug))) {
      throw conflict(`Project ${project.slug} has a signing policy "${updated.slug}" already`);
    }
    const changed = await commitUpdate(context, {
      entity: 'policy',
      stored,
      updated,
      name: `${project.slug}/${updated.slug}`,
      plan: store.policies.update(stored, updated),
    });
    return changed ? updated : policy;
  },
});

export const deletePolicy = defineCommand({
  name: 'policy.delete',
  async handler(context, input) {
    const stored = await policyInOrg(context, input.policyId);
    const policy = stored.value;
    return commitRemoval(context, {
      entity: 'policy',
      id: policy.id,
      name: policy.slug,
      identity: { slug: policy.slug },
      plan: await context.store.policies.remove(stored),
    });
  },
});

export const listBuildSystems = defineCommand({
  name: 'buildSystem.list',
  async handler({ actor, store }) {
    return (await store.buildSystems.list(actor.orgId)).sort((a, b) => a.name.localeCompare(b.name));
  },
});

export const createBuildSystem = defineCommand({
  name: 'buildSystem.create',
  async handler({ actor, store, commit, signet }, input) {
    if (input.jwksUrl) {
      await assertOutboundUrl(signet, 'jwksUrl', input.jwksUrl);
    }
    const existing = await store.buildSystems.list(actor.orgId);
    if (existing.some((b) => b.issuer === input.issuer)) throw conflict(`A build system with issuer ${input.issuer} is registered already`);
    const buildSystem: BuildSystemRecord = {
      id: randomId(),
      orgId: actor.orgId,
      name: input.name,
      issuer: input.issuer,
      audience: input.audience,
      jwksUrl: input.jwksUrl ?? null,
      jwks: (input.jwks as BuildSystemRecord['jwks']) ?? null,
      createdAt: new Date().toISOString(),
      version: 1,
    };
    await commit({
      target: { type: 'buildSystem', id: buildSystem.id, name: buildSystem.name },
      changes: diffFields(null, { ...buildSystem, jwks: buildSystem.jwks ? `${buildSystem.jwks.keys.length} inline keys` : null }),
      ...store.buildSystems.create(buildSystem),
    });
    return buildSystem;
  },
});

export const deleteBuildSystem = defineCommand({
  name: 'buildSystem.delete',
  async handler(context, input) {
    const { actor, store } = context;
    const stored = await store.buildSystems.get(actor.orgId, input.buildSystemId);
    if (!stored) throw notFound(`Build system ${input.buildSystemId}`);
    return commitRemoval(context, {
      entity: 'buildSystem',
      id: stored.value.id,
      name: stored.value.name,
      identity: { issuer: stored.value.issuer },
      plan: store.buildSystems.remove(stored),
    });
  },
});
