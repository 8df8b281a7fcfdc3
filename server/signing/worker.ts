// What a signing job does: Queued → Processing → Completed, or ProcessingFailed with a clear
// reason. Re-running a job is safe: a request that is already Processing (its worker died) is
// signed again from the start, and a final one is left alone.
import { stat } from 'node:fs/promises';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import type { RequestRecord } from '../store/records.js';
import type { Loaded } from '../store/plan.js';
import { certificateProblem } from './certificates.js';
import { sha256File } from './cms.js';
import { artifactPaths, signedPath } from './artifacts.js';
import { isFormatRefusal, signArtifact } from './formats/index.js';
import { formatProblem } from './formats/fit.js';
import { formatOf, signedDownload } from '../../src/lib/shared/formats.js';
import { commitRequestChange, systemActing, withStatus } from './lifecycle.js';

const WORKER_ACTOR: AuditActor = { type: 'system', id: 'signing-worker', name: 'Signing worker' };
const EXPIRY_ACTOR: AuditActor = { type: 'system', id: 'expiry', name: 'Request expiry' };

/** A reason the request cannot be signed; it fails with this text instead of being retried. */
class SigningRefused extends Error {}

async function fail(signet: Signet, stored: Loaded<RequestRecord>, reason: string) {
  const policy = (await signet.store.policies.get(stored.value.orgId, stored.value.policyId))?.value ?? null;
  await commitRequestChange(signet, systemActing(signet, stored.value.orgId, WORKER_ACTOR), {
    before: stored,
    after: { ...withStatus(stored.value, 'ProcessingFailed'), failureReason: reason },
    policy,
    actorUserId: null,
    action: 'request.fail',
  });
}

export async function signRequest(signet: Signet, orgId: string, requestId: string, options: { finalAttempt: boolean }): Promise<string> {
  const worker = systemActing(signet, orgId, WORKER_ACTOR);
  let stored = await signet.store.requests.get(orgId, requestId);
  if (!stored) return 'gone';
  // A deleted organization signs nothing more.
  const org = (await signet.store.organizations.get(stored.value.orgId))?.value;
  if (!org || org.deletedAt) return 'organization deleted';
  if (stored.value.workflowStatus === 'QueuedForProcessing') {
    const policy = (await signet.store.policies.get(stored.value.orgId, stored.value.policyId))?.value ?? null;
    await commitRequestChange(signet, worker, {
      before: stored,
      after: withStatus(stored.value, 'Processing'),
      policy,
      actorUserId: null,
      action: 'request.process',
    });
    stored = (await signet.store.requests.get(orgId, requestId))!;
  }
  if (stored.value.workflowStatus !== 'Processing') return `skipped: ${stored.value.workflowStatus}`;
  const request = stored.value;

  try {
    const policy = (await signet.store.policies.get(request.orgId, request.policyId))?.value;
    if (!policy) throw new SigningRefused(`the signing policy ${request.policySlug} was deleted`);
    const certificateRecord = (await signet.store.certificates.get(policy.orgId, policy.certificateId))?.value;
    if (!certificateRecord) throw new SigningRefused(`the certificate of policy ${policy.slug} was deleted`);
    if (certificateRecord.disabled) throw new SigningRefused(`the certificate "${certificateRecord.name}" is disabled`);
    const problem = certificateProblem(certificateRecord);
    if (problem) throw new SigningRefused(`the certificate "${certificateRecord.name}" cannot sign: ${problem}`);

    const paths = artifactPaths(signet.config, request.orgId, request.id);
    const onDisk = await sha256File(paths.artifact).catch(() => {
      throw new SigningRefused('the uploaded artifact is missing from storage');
    });
    if (onDisk.toString('hex') !== request.artifact.sha256) {
      throw new SigningRefused('the stored artifact no longer matches the SHA-256 computed at upload');
    }
    if (signet.config.SIGNET_FAULT_CRASH_BEFORE_SIGNING) process.exit(137);

    const format = formatOf(request);
    const unfit = await formatProblem(format, request.artifact.fileName, paths.artifact);
    if (unfit) throw new SigningRefused(unfit);
    const output = signedPath(signet.config, request.orgId, request.id, format);
    let stamped;
    try {
      stamped = await signArtifact(signet, {
        format,
        fileName: request.artifact.fileName,
        artifact: paths.artifact,
        artifactSha256: onDisk,
        output,
        certificate: certificateRecord,
        policy,
      });
    } catch (error) {
      if (isFormatRefusal(error)) throw new SigningRefused(error.message);
      throw error;
    }
    await commitRequestChange(signet, worker, {
      before: stored,
      after: {
        ...withStatus(request, 'Completed'),
        signature: {
          sha256: (await sha256File(output)).toString('hex'),
          size: (await stat(output)).size,
          certificateId: certificateRecord.id,
          format,
          fileName: signedDownload(format, request.artifact.fileName).fileName,
          timestamp: stamped.timestamp,
          noTimestampReason: stamped.noTimestampReason,
        },
      },
      policy,
      actorUserId: null,
      action: 'request.complete',
    });
    return 'completed';
  } catch (error) {
    if (error instanceof SigningRefused) {
      await fail(signet, stored, error.message);
      return 'failed';
    }
    // Unexpected (Redis, disk): let BullMQ retry; the last attempt records the failure.
    if (options.finalAttempt) await fail(signet, stored, 'signing failed after several attempts; see the server log').catch(() => {});
    throw error;
  }
}

/** Pending requests expire: still waiting for approval when their time is up → Canceled. */
export async function expireRequest(signet: Signet, orgId: string, requestId: string): Promise<string> {
  const stored = await signet.store.requests.get(orgId, requestId);
  if (!stored || !['Submitted', 'WaitingForApproval'].includes(stored.value.workflowStatus)) return 'not pending';
  if (stored.value.expiresAt && Date.parse(stored.value.expiresAt) > Date.now()) return 'not yet';
  const policy = (await signet.store.policies.get(stored.value.orgId, stored.value.policyId))?.value ?? null;
  await commitRequestChange(signet, systemActing(signet, orgId, EXPIRY_ACTOR), {
    before: stored,
    after: { ...withStatus(stored.value, 'Canceled'), failureReason: 'expired: the required approvals did not come in time' },
    policy,
    actorUserId: null,
    action: 'request.expire',
  });
  return 'expired';
}
