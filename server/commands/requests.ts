// request.list, request.get, request.approve, request.deny, request.cancel, request.resubmit.
// (Submitting a new request is an upload: POST /api/v1/orgs/{org}/signing-requests.)
import { commandInputs } from '../../src/lib/shared/commands.js';
import { CANCELABLE, type WorkflowStatus } from '../../src/lib/shared/signing.js';
import type { Decision } from '../../src/lib/shared/entities.js';
import type { RequestRecord } from '../store/records.js';
import { parseStoredEntry } from '../audit/query.js';
import { commitRequestChange, withStatus } from '../signing/lifecycle.js';
import { newRequestId, submitSigningRequest } from '../signing/submit.js';
import { artifactPaths, copyArtifact, removeRequestFiles } from '../signing/artifacts.js';
import { defineCommand, type CommandContext } from './define.js';
import { CommandFailure, conflict, forbidden, invalid, notFound } from '../errors.js';

async function requestInOrg(context: CommandContext, requestId: string) {
  const stored = await context.repos.request(requestId);
  if (!stored || stored.value.orgId !== context.actor.orgId) throw notFound(`Signing request ${requestId}`);
  return stored;
}

/** The activity trail of a request: its slice of the audit log. */
async function activityOf(context: CommandContext, requestId: string) {
  const { redis, keys } = context.repos;
  const seqs = await redis.zrange(keys.auditByTarget(context.actor.orgId, requestId), '0', '-1');
  if (seqs.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const seq of seqs) pipeline.zrangebyscore(keys.audit(context.actor.orgId), seq, seq);
  const rows = (await pipeline.exec()) ?? [];
  return rows.flatMap(([, members], i) => ((members as string[]) ?? []).map((member) => parseStoredEntry(member, Number(seqs[i]))));
}

export const listRequests = defineCommand({
  name: 'request.list',
  input: commandInputs['request.list'],
  permission: 'signing:read',
  async handler({ actor, repos }, input) {
    const limit = input.limit ?? 50;
    const matches = (request: RequestRecord) =>
      (!input.projectId || request.projectId === input.projectId) &&
      (!input.workflowStatus || request.workflowStatus === input.workflowStatus) &&
      (!input.submitterId || request.submitterId === input.submitterId);
    if (input.awaitingMyApproval) {
      // Waiting requests are few; the policy decides (now) whether I am one of their approvers.
      const waiting = (await repos.waitingRequests(actor.orgId)).filter(matches);
      const policies = new Map<string, string[]>();
      for (const request of waiting) {
        if (!policies.has(request.policyId)) policies.set(request.policyId, (await repos.policy(request.policyId))?.value.approvers ?? []);
      }
      const mine = waiting.filter(
        (request) =>
          request.submitterId !== actor.userId &&
          policies.get(request.policyId)!.includes(actor.userId) &&
          !request.approvals.some((a) => a.userId === actor.userId),
      );
      return { requests: mine.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit), nextBefore: null, total: mine.length };
    }
    const found: RequestRecord[] = [];
    const [ms, id] = input.before ? input.before.split(':') : [];
    const cursor = input.before ? { ms: Number(ms), id: id! } : undefined;
    let last: { ms: number; id: string } | undefined;
    for (let offset = 0, scanned = 0; found.length < limit && scanned < 5000; offset += 200) {
      const page = await repos.requestIdsAfter(actor.orgId, cursor, offset, 200);
      if (page.scanned === 0) return { requests: found, nextBefore: null };
      scanned += page.scanned;
      const records = new Map((await repos.requestsByIds(page.ids.map((entry) => entry.id))).map((r) => [r.id, r]));
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
  input: commandInputs['request.get'],
  permission: 'signing:read',
  async handler(context, input) {
    const request = (await requestInOrg(context, input.requestId)).value;
    return { request, activity: await activityOf(context, request.id) };
  },
});

/** An approver acting now: named in the policy as it is now, and never the submitter. */
async function approverCheck(context: CommandContext, request: RequestRecord, verb: 'approve' | 'deny') {
  if (request.workflowStatus !== 'WaitingForApproval') {
    throw conflict(`The request is ${request.workflowStatus}, not waiting for approval`, request);
  }
  if (request.submitterId === context.actor.userId) throw forbidden(`A submitter never ${verb === 'approve' ? 'approves' : 'denies'} their own request`);
  const policy = (await context.repos.policy(request.policyId))?.value;
  if (!policy) throw conflict(`The signing policy ${request.policySlug} was deleted; the request can only be canceled`);
  if (!policy.approvers.includes(context.actor.userId)) {
    throw forbidden(`You are not an approver of signing policy ${request.projectSlug}/${policy.slug}`);
  }
  if ([...request.approvals, ...request.denials].some((d) => d.userId === context.actor.userId)) {
    throw conflict(`You have decided on this request already`, request);
  }
  return policy;
}

function decision(context: CommandContext, comment: string): Decision {
  return { userId: context.actor.userId, name: context.actor.name, comment, at: new Date().toISOString() };
}

export const approveRequest = defineCommand({
  name: 'request.approve',
  input: commandInputs['request.approve'],
  permission: 'signing:approve',
  async handler(context, input) {
    // Two approvers acting at the same moment: the one whose write lost re-reads and tries again.
    return retryOnConcurrentChange(async () => {
      const stored = await requestInOrg(context, input.requestId);
      const policy = await approverCheck(context, stored.value, 'approve');
      // Each approval was checked against the policy when it was given (SPEC §4), so all count.
      const approvals = [...stored.value.approvals, decision(context, input.comment)];
      const next: WorkflowStatus = approvals.length >= stored.value.requiredApprovals ? 'QueuedForProcessing' : 'WaitingForApproval';
      return commitRequestChange(context.signet, {
        before: stored,
        after: { ...withStatus(stored.value, next), approvals },
        policy,
        actor: context.actor.audit,
        actorUserId: context.actor.userId,
        source: context.source,
        action: 'request.approve',
        comment: input.comment,
      });
    });
  },
});

/** Re-runs `attempt` when the request changed between reading and writing it (up to 3 times). */
async function retryOnConcurrentChange<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const concurrent = error instanceof CommandFailure && error.concurrentChange;
      if (!concurrent || tries === 3) throw error;
    }
  }
}

export const denyRequest = defineCommand({
  name: 'request.deny',
  input: commandInputs['request.deny'],
  permission: 'signing:approve',
  async handler(context, input) {
    return retryOnConcurrentChange(async () => {
      const stored = await requestInOrg(context, input.requestId);
      const policy = await approverCheck(context, stored.value, 'deny');
      return commitRequestChange(context.signet, {
        before: stored,
        after: {
          ...withStatus(stored.value, 'Denied'),
          denials: [...stored.value.denials, decision(context, input.comment)],
          failureReason: `denied by ${context.actor.name}: ${input.comment}`,
        },
        policy,
        actor: context.actor.audit,
        actorUserId: context.actor.userId,
        source: context.source,
        action: 'request.deny',
        comment: input.comment,
      });
    });
  },
});

export const cancelRequest = defineCommand({
  name: 'request.cancel',
  input: commandInputs['request.cancel'],
  permission: 'signing:submit',
  async handler(context, input) {
    const stored = await requestInOrg(context, input.requestId);
    const request = stored.value;
    const isAdmin = context.actor.role === 'owner' || context.actor.role === 'admin';
    if (request.submitterId !== context.actor.userId && !isAdmin) {
      throw forbidden('Only the submitter or an administrator may cancel a signing request');
    }
    if (!CANCELABLE.includes(request.workflowStatus as WorkflowStatus)) {
      throw conflict(`The request is ${request.workflowStatus}; it can be canceled only before processing starts`, request);
    }
    return commitRequestChange(context.signet, {
      before: stored,
      after: {
        ...withStatus(request, 'Canceled'),
        failureReason: `canceled by ${context.actor.name}${input.reason ? `: ${input.reason}` : ''}`,
      },
      policy: (await context.repos.policy(request.policyId))?.value ?? null,
      actor: context.actor.audit,
      actorUserId: context.actor.userId,
      source: context.source,
      action: 'request.cancel',
      comment: input.reason,
    });
  },
});

export const resubmitRequest = defineCommand({
  name: 'request.resubmit',
  input: commandInputs['request.resubmit'],
  permission: 'signing:submit',
  async handler(context, input) {
    const original = (await requestInOrg(context, input.requestId)).value;
    return resubmit(context, original, { policyId: input.policyId, description: input.description, originToken: input.originToken });
  },
});

/** Re-submission (command and REST): a new request from a final one, checked against the new policy. */
export async function resubmit(
  context: Pick<CommandContext, 'signet' | 'actor' | 'source' | 'repos'>,
  original: RequestRecord,
  options: { policyId?: string; description?: string; originToken?: string },
) {
  const { signet, actor, source, repos } = context;
  if (original.submitterId !== actor.userId && actor.role !== 'owner' && actor.role !== 'admin') {
    throw forbidden('Only the submitter or an administrator may re-submit a signing request');
  }
  if (!original.isFinalStatus) throw conflict(`The request is ${original.workflowStatus}; only a finished request can be re-submitted`, original);
  const project = (await repos.project(original.projectId))?.value;
  if (!project) throw conflict(`Project ${original.projectSlug} was deleted`);
  const policy = (await repos.policy(options.policyId ?? original.policyId))?.value;
  if (!policy || policy.orgId !== actor.orgId) throw invalid('policyId', `no signing policy ${options.policyId ?? original.policySlug}`);
  if (policy.projectId !== project.id) throw invalid('policyId', `signing policy ${policy.slug} belongs to another project`);
  const artifactConfig = (await repos.artifactConfig(original.artifactConfigId))?.value ?? (await repos.artifactConfigs(project.id)).find((c) => c.isDefault);
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

