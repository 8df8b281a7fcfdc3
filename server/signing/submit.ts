// Submitting a signing request (REST upload, the console's upload, and re-submission): every check
// of SPEC §4 against the policy the request goes to, then one commit. The request skips straight
// from Submitted to WaitingForApproval or QueuedForProcessing, since all checks happen first.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { maySubmitUnder } from '../../src/lib/shared/rules.js';
import type { Actor } from '../auth/actor.js';
import type { Signet } from '../signet.js';
import type { ArtifactConfigRecord, PolicyRecord, ProjectRecord, RequestRecord } from '../store/records.js';
import type { Escalation, Origin } from '../../src/lib/shared/entities.js';
import { auditDenial } from '../audit/denial.js';
import type { AuditSource } from '../audit/entries.js';
import { CommandFailure, conflict, forbidden, invalid } from '../errors.js';
import { commitRequestChange, withStatus } from './lifecycle.js';
import { OriginVerificationError } from './origin/failure.js';
import { branchMatches, globToRegExp } from './origin/matching.js';
import { verifyOriginToken } from './origin/verify.js';
import type { IdempotencyScope } from '../store/requests.js';
import { applicableGrant, grantChanged, useGrant } from './grants.js';
import { formatProblem } from './formats/fit.js';

export interface UploadedArtifact {
  fileName: string;
  size: number;
  sha256: string;
}

export interface SubmissionInput {
  project: ProjectRecord;
  policy: PolicyRecord;
  artifactConfig: ArtifactConfigRecord;
  artifact: UploadedArtifact;
  description: string;
  parameters: Record<string, string>;
  originToken?: string;
  /** The request this one re-submits: its origin is carried over (and re-checked). */
  resubmitting?: RequestRecord;
  /** Already chosen, so the uploaded file could be stored under it. */
  requestId: string;
  /** Where the uploaded file is stored: its content must fit the configuration's signature format. */
  artifactPath: string;
  /** The Idempotency-Key the submission came with: it names this request from now on. */
  idempotency?: IdempotencyScope;
}

export function newRequestId(): string {
  return `sr_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** Checks that deny are audited as denials, with their reason. */
async function denied(signet: Signet, actor: Actor, source: AuditSource, action: string, message: string): Promise<never> {
  await auditDenial(signet, actor, action, message, source);
  const failure = forbidden(message);
  failure.audited = true;
  throw failure;
}

/** Resolves project, policy and artifact configuration by slug, as the REST API names them. */
export async function resolveBySlugs(signet: Signet, orgId: string, slugs: { project: string; policy: string; artifactConfig?: string }) {
  const { store } = signet;
  const project = (await store.projects.bySlug(orgId, slugs.project))?.value;
  if (!project) throw invalid('projectSlug', `no project "${slugs.project}"`);
  const policy = (await store.policies.bySlug(orgId, project.id, slugs.policy))?.value;
  if (!policy) throw invalid('signingPolicySlug', `project ${project.slug} has no signing policy "${slugs.policy}"`);
  const configs = await store.artifactConfigs.ofProject(project.id);
  const artifactConfig = slugs.artifactConfig ? configs.find((c) => c.slug === slugs.artifactConfig) : configs.find((c) => c.isDefault);
  if (!artifactConfig) {
    throw invalid('artifactConfigurationSlug', slugs.artifactConfig ? `project ${project.slug} has no artifact configuration "${slugs.artifactConfig}"` : `project ${project.slug} has no default artifact configuration`);
  }
  return { project, policy, artifactConfig };
}

/** The checks that need no upload: run before the file is stored where possible. */
export async function checkSubmitter(signet: Signet, actor: Actor, source: AuditSource, project: ProjectRecord, policy: PolicyRecord, action: string) {
  if (!actor.permissions.has('signing:submit')) {
    await denied(signet, actor, source, action, `Submitting needs the signing:submit permission, which ${actor.type === 'user' ? `a ${actor.role}` : 'this API key'} does not have`);
  }
  if (!maySubmitUnder(policy, actor.userId)) {
    await denied(signet, actor, source, action, `You are not a submitter of signing policy ${project.slug}/${policy.slug}`);
  }
  if (project.status !== 'active') throw conflict(`Project ${project.slug} is inactive and accepts no new signing requests`);
}

function checkArtifact(config: ArtifactConfigRecord, fileName: string, size: number) {
  const baseName = path.basename(fileName.replaceAll('\\', '/'));
  if (!baseName || baseName.length > 255) throw invalid('artifact', 'needs a file name of at most 255 characters');
  if (!globToRegExp(config.fileNamePattern).test(baseName) && !globToRegExp(config.fileNamePattern).test(fileName)) {
    throw invalid('artifact', `file name "${baseName}" does not match ${config.slug}'s pattern ${config.fileNamePattern}`);
  }
  if (size > config.maxSizeBytes) throw invalid('artifact', `is ${size} bytes; ${config.slug} accepts at most ${config.maxSizeBytes}`);
  if (size === 0) throw invalid('artifact', 'is empty');
  return baseName;
}

async function checkOrigin(signet: Signet, actor: Actor, source: AuditSource, input: SubmissionInput, action: string): Promise<Origin | null> {
  const { project, policy } = input;
  const carried = input.resubmitting?.origin ?? null;
  if (!policy.originVerification && !actor.org.openSource) {
    return input.originToken ? await verifyIfPossible() : carried;
  }
  if (input.originToken) return verifyOrDeny();
  // A re-submission may carry a verified origin over, if it satisfies the new policy too.
  if (carried?.verified && project.repositoryUrl && carried.branch && branchMatches(carried.branch, policy.allowedBranches)) return carried;
  throw invalid('originToken', `signing policy ${policy.slug} requires origin verification: send the build system's ID token`);

  async function verifyOrDeny(): Promise<Origin> {
    try {
      return await verify();
    } catch (error) {
      if (error instanceof OriginVerificationError) return denied(signet, actor, source, action, `Origin verification failed: ${logged(error).message}`);
      throw error;
    }
  }
  async function verifyIfPossible(): Promise<Origin | null> {
    try {
      return await verify();
    } catch (error) {
      if (error instanceof OriginVerificationError) throw invalid('originToken', logged(error).message);
      throw error;
    }
  }
  function logged(error: OriginVerificationError): OriginVerificationError {
    if (error.detail) signet.logger.info({ orgId: actor.orgId, reason: error.reason, detail: error.detail }, 'origin verification failed');
    return error;
  }
  async function verify(): Promise<Origin> {
    // JWKS URLs are fetched through the outbound client, which judges the address it connects to.
    const buildSystems = await signet.store.buildSystems.list(actor.orgId);
    const verified = await verifyOriginToken(
      input.originToken!,
      buildSystems,
      { repositoryUrl: project.repositoryUrl ?? '', branchPatterns: policy.allowedBranches },
      signet.outbound,
    );
    return {
      verified: true,
      repository: verified.repository,
      repositoryUrl: verified.repositoryUrl,
      branch: verified.branch,
      commit: verified.commit,
      buildUrl: verified.buildUrl,
      issuer: verified.issuer,
      buildSystemId: verified.buildSystemId,
    };
  }
}

export async function submitSigningRequest(
  signet: Signet,
  actor: Actor,
  source: AuditSource,
  input: SubmissionInput,
): Promise<RequestRecord> {
  const action = input.resubmitting ? 'request.resubmit' : 'request.submit';
  const { project, policy, artifactConfig } = input;
  if (policy.projectId !== project.id) throw invalid('policyId', `signing policy ${policy.slug} belongs to another project`);
  await checkSubmitter(signet, actor, source, project, policy, action);
  const fileName = checkArtifact(artifactConfig, input.artifact.fileName, input.artifact.size);
  const unfit = await formatProblem(artifactConfig.signatureFormat, fileName, input.artifactPath);
  if (unfit) throw invalid('artifact', `cannot be signed as ${artifactConfig.signatureFormat} (artifact configuration ${artifactConfig.slug}): ${unfit}`);
  const origin = await checkOrigin(signet, actor, source, input, action);

  const now = new Date();
  const needsApproval = policy.requiredApprovals > 0;
  const base: RequestRecord = {
    id: input.requestId,
    orgId: actor.orgId,
    projectId: project.id,
    projectSlug: project.slug,
    policyId: policy.id,
    policySlug: policy.slug,
    artifactConfigId: artifactConfig.id,
    artifactConfigSlug: artifactConfig.slug,
    artifact: { fileName, size: input.artifact.size, sha256: input.artifact.sha256 },
    description: input.description,
    parameters: input.parameters,
    origin,
    submitterId: actor.userId,
    submitterName: actor.name,
    requiredApprovals: policy.requiredApprovals,
    approvals: [],
    denials: [],
    status: 'Submitted',
    workflowStatus: 'Submitted',
    isFinalStatus: false,
    failureReason: null,
    resubmittedFromId: input.resubmitting?.id ?? null,
    signatureFormat: artifactConfig.signatureFormat,
    signature: null,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    expiresAt: needsApproval ? new Date(now.getTime() + signet.config.SIGNET_REQUEST_EXPIRY_HOURS * 3600_000).toISOString() : null,
    finishedAt: null,
    version: 0,
  };
  const acting = signet.acting({ orgId: actor.orgId, actor: actor.audit, source, action });
  const waiting = withStatus({ ...base, escalation: escalationOf(signet, policy, now) }, 'WaitingForApproval', now);
  // Submissions racing for a grant's last signatures: each loser reads the grant again (bounded:
  // every round one of them commits).
  for (let attempt = 1; ; attempt++) {
    const grant = needsApproval ? await applicableGrant(signet, policy, actor.userId) : null;
    const use = grant ? useGrant(signet, grant, policy, withStatus(base, 'QueuedForProcessing', now)) : null;
    try {
      return await commitRequestChange(signet, acting, {
        before: null,
        after: use?.request ?? (needsApproval ? waiting : withStatus(base, 'QueuedForProcessing', now)),
        policy,
        actorUserId: actor.userId,
        change: input.resubmitting ? 'resubmitted' : 'submitted',
        idempotency: input.idempotency,
        also: use ?? undefined,
        changes: use?.changes,
      });
    } catch (error) {
      const retry = grant && error instanceof CommandFailure && error.concurrentChange && attempt < GRANT_RACE_ATTEMPTS && (await grantChanged(signet, grant));
      if (!retry) throw error;
    }
  }
}

/** How often a submission reads a grant again after losing a race for it. */
const GRANT_RACE_ATTEMPTS = 25;

/** When a new waiting request's online approvers are nudged and its backup approvers told (none: the policy does not escalate). */
function escalationOf(signet: Signet, policy: PolicyRecord, now: Date): Escalation | null {
  const minutes = policy.escalateAfterMinutes;
  if (!minutes || !(policy.backupApprovers ?? []).length) return null;
  const wait = minutes * signet.config.SIGNET_ESCALATION_MINUTE_MS;
  return {
    afterMinutes: minutes,
    nudgeAt: new Date(now.getTime() + wait / 2).toISOString(),
    escalateAt: new Date(now.getTime() + wait).toISOString(),
    nudgedAt: null,
    nudged: [],
    escalatedAt: null,
    backups: [],
  };
}

/** Removes a stored upload whose request was never created. */
export async function discardUpload(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

