// request.list, request.get, request.approve, request.deny, request.cancel, request.resubmit.
// (Submitting a new request is an upload: POST /api/v1/orgs/{org}/signing-requests.)
import type { WorkflowStatus } from '../../src/lib/shared/signing.js';
import { breakGlassRefusal, cancelRefusal, decisionRefusal, resubmitRefusal } from '../../src/lib/shared/rules.js';
import type { Decision } from '../../src/lib/shared/entities.js';
import type { PolicyRecord, RequestRecord } from '../store/records.js';
import { commitRequestChange, withStatus } from '../signing/lifecycle.js';
import { newRequestId, submitSigningRequest } from '../signing/submit.js';
import { artifactPaths, copyArtifact, removeRequestFiles } from '../signing/artifacts.js';
import { BREAK_GLASS_PERMISSIONS, summarizePrevious } from '../../src/lib/shared/approvals.js';
import { defineCommand, type CommandContext } from './define.js';
import { conflict, forbidden, invalid, notFound, retryOnConcurrentChange } from '../errors.js';

async function requestInOrg({ actor, store }: CommandContext, requestId: string) {
  const stored = await store.requests.get(actor.orgId, requestId);
  if (!stored) throw notFound(`Signing request ${requestId}`);
  return stored;
}

export const listRequests = defineCommand({
  name: 'request.list',
  async handler({ actor, store }, input) {
    const limit = input.limit ?? 50;
    const matches = (request: RequestRecord) =>
      (!input.projectId || request.projectId === input.projectId) &&
      (!input.workflowStatus || request.workflowStatus === input.workflowStatus) &&
      (!input.submitterId || request.submitterId === input.submitterId);
    if (input.awaitingMyApproval) {
      // Waiting requests are few; the policy decides (now) whether I am one of their approvers.
      const waiting = (await store.requests.waiting(actor.orgId)).filter(matches);
      // Their policies in one read.
      const policyIds = [...new Set(waiting.map((request) => request.policyId))];
      const policies = new Map((await store.policies.ofIds(actor.orgId, policyIds)).map((policy) => [policy.id, policy]));
      const mine = waiting.filter((request) => decisionRefusal(request, policies.get(request.policyId) ?? null, actor.userId) === null);
      return { requests: mine.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit), nextBefore: null, total: mine.length };
    }
    const found: RequestRecord[] = [];
    const [ms, id] = input.before ? input.before.split(':') : [];
    const cursor = input.before ? { ms: Number(ms), id: id! } : undefined;
    let last: { ms: number; id: string } | undefined;
    for (let offset = 0, scanned = 0; found.length < limit && scanned < 5000; offset += 200) {
      const page = await store.requests.idsAfter(actor.orgId, cursor, offset, 200);
      if (page.scanned === 0) return { requests: found, nextBefore: null };
      scanned += page.scanned;
      const records = new Map((await store.requests.byIds(actor.orgId, page.ids.map((entry) => entry.id))).map((r) => [r.id, r]));
      for (const entry of page.ids) {
        last = entry;
        const request = records.get(entry.id);
        if (request && matches(request)) found.push(request);
        if (found.length === limit) break;
      }
    }
    return { requests: found, nextBefore: last ? `${last.ms}:${last.id}` : null };
  },
});

export const getRequest = defineCommand({
  name: 'request.get',
  async handler(context, input) {
    const request = (await requestInOrg(context, input.requestId)).value;
    // What an approver compares against: the policy's last signed request before this one.
    const previous = await context.store.requests.previousSigned(request.orgId, request.policyId, Date.parse(request.createdAt));
    return {
      request,
      activity: await context.store.requests.activity(request.orgId, request.id),
      previousSigned: previous && previous.id !== request.id ? summarizePrevious(previous, request) : null,
    };
  },
});

/** An approver acting now (rules.ts): named in the policy as it is now, and never the submitter. */
async function approverCheck(context: CommandContext, request: RequestRecord, verb: 'approve' | 'deny') {
  const policy = (await context.store.policies.get(request.orgId, request.policyId))?.value ?? null;
  switch (decisionRefusal(request, policy, context.actor.userId)) {
    case 'notWaiting':
      throw conflict(`The request is ${request.workflowStatus}, not waiting for approval`, request);
    case 'ownRequest':
      throw forbidden(`A submitter never ${verb === 'approve' ? 'approves' : 'denies'} their own request`);
    case 'policyGone':
      throw conflict(`The signing policy ${request.policySlug} was deleted; the request can only be canceled`);
    case 'notApprover':
      throw forbidden(`You are not an approver of signing policy ${request.projectSlug}/${policy!.slug}`);
    case 'backupNotYet':
      throw forbidden(
        `You are a backup approver of signing policy ${request.projectSlug}/${policy!.slug}: you may ${verb} once the request is escalated (after ${policy!.escalateAfterMinutes} minutes of waiting)`,
      );
    case 'alreadyDecided':
      throw conflict(`You have decided on this request already`, request);
  }
  return policy!;
}

/** A backup approver's decision says so in the audit log. */
function asBackup(policy: PolicyRecord, context: CommandContext) {
  return policy.approvers.includes(context.actor.userId) ? undefined : { decidedAs: { before: null, after: 'backup approver (escalated)' } };
}

function decision(context: CommandContext, comment: string): Decision {
  return { userId: context.actor.userId, name: context.actor.name, comment, at: new Date().toISOString() };
}

export const approveRequest = defineCommand({
  name: 'request.approve',
  async handler(context, input) {
    // Two approvers acting at the same moment: the one whose write lost re-reads and tries again.
    return retryOnConcurrentChange(async () => {
      const stored = await requestInOrg(context, input.requestId);
      const policy = await approverCheck(context, stored.value, 'approve');
      // Each approval was checked against the policy when it was given (SPEC §4), so all count.
      const approvals = [...stored.value.approvals, decision(context, input.comment)];
      const next: WorkflowStatus = approvals.length >= stored.value.requiredApprovals ? 'QueuedForProcessing' : 'WaitingForApproval';
      return commitRequestChange(context.signet, context, {
        before: stored,
        after: { ...withStatus(stored.value, next), approvals },
        policy,
        actorUserId: context.actor.userId,
        comment: input.comment,
        changes: asBackup(policy, context),
      });
    });
  },
});

export const denyRequest = defineCommand({
  name: 'request.deny',
  async handler(context, input) {
    return retryOnConcurrentChange(async () => {
      const stored = await requestInOrg(context, input.requestId);
      const policy = await approverCheck(context, stored.value, 'deny');
      return commitRequestChange(context.signet, context, {
        before: stored,
        after: {
          ...withStatus(stored.value, 'Denied'),
          denials: [...stored.value.denials, decision(context, input.comment)],
          failureReason: `denied by ${context.actor.name}: ${input.comment}`,
        },
        policy,
        actorUserId: context.actor.userId,
        comment: input.comment,
        changes: asBackup(policy, context),
      });
    });
  },
});

/**
 * Break-glass (SPEC §4): on a policy that allows it, an owner or admin approves a waiting request
 * alone, with a reason. Every approver and admin hears of it on every channel; the request and its
 * audit entry carry the mark. Never on one's own request, never by the vendor's support user.
 */
export const breakGlassRequest = defineCommand({
  name: 'request.breakGlass',
  async handler(context, input) {
    const { actor } = context;
    const lacking = BREAK_GLASS_PERMISSIONS.find((permission) => !actor.permissions.has(permission));
    if (lacking) throw forbidden(`Break-glass is for owners and admins: it needs the ${lacking} permission, which ${actor.type === 'user' ? `a ${actor.role}` : 'this API key'} does not have`);
    if (actor.type === 'support') throw forbidden("The support user cannot break the glass: approving alone is the organization's own administrators' call");
    return retryOnConcurrentChange(async () => {
      const stored = await requestInOrg(context, input.requestId);
      const request = stored.value;
      const policy = (await context.store.policies.get(actor.orgId, request.policyId))?.value ?? null;
      // The rule the request page shows the action by (src/lib/shared/rules.ts).
      switch (breakGlassRefusal(request, policy, actor.userId)) {
        case 'notWaiting':
          throw conflict(`The request is ${request.workflowStatus}, not waiting for approval`, request);
        case 'ownRequest':
          throw forbidden('A submitter never breaks the glass on their own request');
        case 'policyGone':
          throw conflict(`The signing policy ${request.policySlug} was deleted; the request can only be canceled`);
        case 'notAllowed':
          throw forbidden(`Signing policy ${request.projectSlug}/${policy!.slug} does not allow break-glass: its approvers decide`);
      }
      const glass = { userId: actor.userId, name: actor.name, reason: input.reason, at: new Date().toISOString() };
      return commitRequestChange(context.signet, context, {
        before: stored,
        after: { ...withStatus(request, 'QueuedForProcessing'), breakGlass: glass },
        policy,
        actorUserId: actor.userId,
        change: 'brokeGlass',
        changes: {
          breakGlass: { before: null, after: { by: actor.name, reason: input.reason, approvalsSoFar: `${request.approvals.length} of ${request.requiredApprovals}` } },
        },
      });
    });
  },
});

export const cancelRequest = defineCommand({
  name: 'request.cancel',
  async handler(context, input) {
    const stored = await requestInOrg(context, input.requestId);
    const request = stored.value;
    const refusal = cancelRefusal(request, context.actor);
    if (refusal === 'notSubmitterOrAdmin') throw forbidden('Only the submitter or an administrator may cancel a signing request');
    if (refusal === 'notCancelable') {
      throw conflict(`The request is ${request.workflowStatus}; it can be canceled only before processing starts`, request);
    }
    return commitRequestChange(context.signet, context, {
      before: stored,
      after: {
        ...withStatus(request, 'Canceled'),
        failureReason: `canceled by ${context.actor.name}${input.reason ? `: ${input.reason}` : ''}`,
      },
      policy: (await context.store.policies.get(request.orgId, request.policyId))?.value ?? null,
      actorUserId: context.actor.userId,
      comment: input.reason,
    });
  },
});

export const resubmitRequest = defineCommand({
  name: 'request.resubmit',
  async handler(context, input) {
    const original = (await requestInOrg(context, input.requestId)).value;
    return resubmit(context, original, { policyId: input.policyId, description: input.description, originToken: input.originToken });
  },
});

/** Re-submission (command and REST): a new request from a final one, checked against the new policy. */
export async function resubmit(
  context: Pick<CommandContext, 'signet' | 'actor' | 'source' | 'store'>,
  original: RequestRecord,
  options: { policyId?: string; description?: string; originToken?: string },
) {
  const { signet, actor, source, store } = context;
  const refusal = resubmitRefusal(original, actor);
  if (refusal === 'notSubmitterOrAdmin') throw forbidden('Only the submitter or an administrator may re-submit a signing request');
  if (refusal === 'notFinal') throw conflict(`The request is ${original.workflowStatus}; only a finished request can be re-submitted`, original);
  const project = (await store.projects.get(original.orgId, original.projectId))?.value;
  if (!project) throw conflict(`Project ${original.projectSlug} was deleted`);
  const policy = (await store.policies.get(actor.orgId, options.policyId ?? original.policyId))?.value;
  if (!policy) throw invalid('policyId', `no signing policy ${options.policyId ?? original.policySlug}`);
  if (policy.projectId !== project.id) throw invalid('policyId', `signing policy ${policy.slug} belongs to another project`);
  const artifactConfig = (await store.artifactConfigs.get(original.orgId, original.artifactConfigId))?.value ?? (await store.artifactConfigs.ofProject(project.id)).find((c) => c.isDefault);
  if (!artifactConfig) throw conflict(`Project ${project.slug} has no artifact configuration to use`);
  const requestId = newRequestId();
  const from = artifactPaths(signet.config, original.orgId, original.id);
  const to = artifactPaths(signet.config, original.orgId, requestId);
  await copyArtifact(from.artifact, to.artifact);
  try {
    return await submitSigningRequest(signet, actor, source, {
      project,
      policy,
      artifactConfig,
      artifact: original.artifact,
      description: options.description ?? original.description,
      parameters: original.parameters,
      originToken: options.originToken,
      resubmitting: original,
      requestId,
      artifactPath: to.artifact,
    });
  } catch (error) {
    await removeRequestFiles(signet.config, original.orgId, requestId);
    throw error;
  }
}

