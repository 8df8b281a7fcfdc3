// SignPath-compatible submission (SPEC §8): SignPath's public REST API paths, field names and
// response fields, so a pipeline that uses SignPath's REST API or PowerShell module moves to Signet
// by changing its URL and token. Only names are translated here: authentication, permissions,
// the upload, checks and signing are the native routes' (signingApi.ts).
//
//   POST /api/v1/{org}/SigningRequests (or …/SigningRequests/SubmitWithArtifact)  multipart → 201 + Location
//   GET  /api/v1/{org}/SigningRequests/{id}                  SignPath's request data
//   GET  /api/v1/{org}/SigningRequests/{id}/SignedArtifact   and …/UnsignedArtifact
//   POST /api/v1/{org}/SigningRequests/Resubmit              OriginalSigningRequestId, SigningPolicySlug, Description
//
// {org} is the organization's slug or its id (SignPath's OrganizationId). Paths and field names
// are matched without regard to case, as SignPath's (ASP.NET) API does.
import express, { type Request } from 'express';
import { z } from 'zod';
import type { RequestStatus } from '../../src/lib/shared/signing.js';
import type { SignPathSigningRequest } from '../../src/lib/shared/rest.js';
import { invalidInput } from '../errors.js';
import type { Dispatcher } from '../commands/dispatch.js';
import type { Signet } from '../signet.js';
import type { RequestRecord } from '../store/records.js';
import { ResubmitInput, receiveFields, route, signingHandlers, type FieldNaming } from './signingApi.js';

/** SignPath's `status` has no Submitted or QueuedForProcessing: both are InProgress there. */
const SIGNPATH_STATUS: Record<RequestStatus, string> = {
  Submitted: 'InProgress',
  WaitingForApproval: 'WaitingForApproval',
  QueuedForProcessing: 'InProgress',
  InProgress: 'InProgress',
  Completed: 'Completed',
  Failed: 'Failed',
  Denied: 'Denied',
  Canceled: 'Canceled',
};

/** SignPath's submission fields (lower-cased) and the native names they mean. */
const SUBMIT_FIELDS: Record<string, string> = {
  projectslug: 'projectSlug',
  signingpolicyslug: 'signingPolicySlug',
  artifactconfigurationslug: 'artifactConfigurationSlug',
  description: 'description',
  // Not SignPath's: the build system's OIDC ID token, for policies with origin verification.
  origintoken: 'originToken',
};

/** Fields SignPath has and Signet does not take, with what to send instead. */
function unsupported(lower: string): string | null {
  if (lower === 'signingpolicyid') return 'Signet names signing policies by slug: send ProjectSlug and SigningPolicySlug';
  if (lower === 'artifactconfigurationid') return 'Signet names artifact configurations by slug: send ArtifactConfigurationSlug';
  if (lower.startsWith('artifactretrievallink')) return 'Signet does not fetch artifacts from a link: upload the file in the field "Artifact"';
  return null;
}

const signPathSubmitNaming: FieldNaming = (name, isFile) => {
  const lower = name.toLowerCase();
  // Origin data a client states about itself is not taken on trust (SignPath takes it only from a
  // trusted build system too): origin is verified from an ID token (OriginToken) or not at all.
  if (lower.startsWith('origin.')) return { kind: 'ignore' };
  if (isFile) return lower === 'artifact' ? { kind: 'file' } : { kind: 'refuse', message: 'unexpected file: send exactly one file, in the field "Artifact"' };
  const parameter = /^parameters(?:\[(.+)\]|\.(.+))$/i.exec(name);
  if (parameter) return { kind: 'parameter', name: (parameter[1] ?? parameter[2])! };
  const refusal = unsupported(lower);
  if (refusal) return { kind: 'refuse', message: refusal };
  const mapped = SUBMIT_FIELDS[lower];
  return mapped ? { kind: 'field', name: mapped } : { kind: 'refuse', message: 'is not a field of SignPath\'s submission API (ProjectSlug, SigningPolicySlug, ArtifactConfigurationSlug, Description, Parameters[NAME], Artifact)' };
};

const RESUBMIT_FIELDS: Record<string, string> = {
  originalsigningrequestid: 'originalSigningRequestId',
  signingpolicyslug: 'signingPolicySlug',
  description: 'description',
  origintoken: 'originToken',
};

const signPathResubmitNaming: FieldNaming = (name) => {
  const lower = name.toLowerCase();
  const refusal = unsupported(lower);
  if (refusal) return { kind: 'refuse', message: refusal };
  const mapped = RESUBMIT_FIELDS[lower];
  return mapped ? { kind: 'field', name: mapped } : { kind: 'refuse', message: 'is not a field of SignPath\'s resubmit API (OriginalSigningRequestId, SigningPolicySlug, Description)' };
};

const SignPathResubmit = ResubmitInput.extend({ originalSigningRequestId: z.string().min(1).max(64) });

/** A request as SignPath's "Get signing request data" presents it. */
async function presentSignPathRequest(signet: Signet, orgInPath: string, request: RequestRecord): Promise<SignPathSigningRequest> {
  const self = `${signet.config.publicUrl}/api/v1/${encodeURIComponent(orgInPath)}/SigningRequests/${request.id}`;
  const [project, policy, artifactConfig] = await Promise.all([
    signet.store.projects.get(request.orgId, request.projectId),
    signet.store.policies.get(request.orgId, request.policyId),
    signet.store.artifactConfigs.get(request.orgId, request.artifactConfigId),
  ]);
  const origin = request.origin?.verified
    ? {
        buildData: { url: request.origin.buildUrl },
        repositoryData: {
          url: request.origin.repositoryUrl,
          branchName: request.origin.branch,
          commitId: request.origin.commit,
          sourceControlManagementType: 'git' as const,
        },
      }
    : undefined;
  return {
    id: request.id,
    status: SIGNPATH_STATUS[request.status as RequestStatus] ?? request.status,
    workflowStatus: request.workflowStatus,
    isFinalStatus: request.isFinalStatus,
    description: request.description,
    projectId: request.projectId,
    projectSlug: request.projectSlug,
    projectName: project?.value.name ?? request.projectSlug,
    artifactConfigurationId: request.artifactConfigId,
    artifactConfigurationSlug: request.artifactConfigSlug,
    artifactConfigurationName: artifactConfig?.value.name ?? request.artifactConfigSlug,
    signingPolicyId: request.policyId,
    signingPolicySlug: request.policySlug,
    signingPolicyName: policy?.value.name ?? request.policySlug,
    unsignedArtifactLink: `${self}/UnsignedArtifact`,
    signedArtifactLink: request.workflowStatus === 'Completed' ? `${self}/SignedArtifact` : null,
    ...(origin ? { origin } : {}),
    parameters: request.parameters,
  };
}

export function createSignPathApi(signet: Signet, dispatcher: Dispatcher): express.Router {
  const api = express.Router({ caseSensitive: false });
  const base = '/api/v1/:org/SigningRequests';
  const { actorFor, requestFor, submitUpload, sendSigned, sendUnsigned, resubmitRequest } = signingHandlers(signet, dispatcher);
  const run = (handler: (req: Request<{ org: string; id?: string }>, res: express.Response) => Promise<void>) => route(signet, handler);

  /** SignPath names the organization by its id; Signet's slug is accepted as well. */
  async function orgSlugOf(org: string): Promise<string> {
    return (await signet.store.organizations.get(org))?.value.slug ?? org;
  }

  const submit = run(async (req, res) => {
    const actor = await actorFor(req, await orgSlugOf(req.params.org), 'signing:submit', 'request.submit');
    const { request, created } = await submitUpload(req, actor, signPathSubmitNaming);
    const body = await presentSignPathRequest(signet, req.params.org, request);
    res.status(created ? 201 : 200).location(`${signet.config.publicUrl}/api/v1/${encodeURIComponent(req.params.org)}/SigningRequests/${request.id}`).json(body);
  });
  api.post(base, submit);
  api.post(`${base}/SubmitWithArtifact`, submit);

  api.post(`${base}/Resubmit`, run(async (req, res) => {
    const actor = await actorFor(req, await orgSlugOf(req.params.org), 'signing:submit', 'request.resubmit');
    const parsed = SignPathResubmit.safeParse(await receiveFields(req, signPathResubmitNaming));
    if (!parsed.success) throw invalidInput(parsed.error);
    const { originalSigningRequestId, ...input } = parsed.data;
    const request = await resubmitRequest(req, actor, await requestFor(actor, originalSigningRequestId), input);
    const body = await presentSignPathRequest(signet, req.params.org, request);
    res.status(201).location(`${signet.config.publicUrl}/api/v1/${encodeURIComponent(req.params.org)}/SigningRequests/${request.id}`).json(body);
  }));

  api.get(`${base}/:id`, run(async (req, res) => {
    const actor = await actorFor(req, await orgSlugOf(req.params.org), 'signing:read', 'request.get');
    res.json(await presentSignPathRequest(signet, req.params.org, await requestFor(actor, req.params.id)));
  }));

  api.get(`${base}/:id/SignedArtifact`, run(async (req, res) => {
    const actor = await actorFor(req, await orgSlugOf(req.params.org), 'signing:read', 'request.download');
    await sendSigned(res, await requestFor(actor, req.params.id));
  }));

  api.get(`${base}/:id/UnsignedArtifact`, run(async (req, res) => {
    const actor = await actorFor(req, await orgSlugOf(req.params.org), 'signing:read', 'request.download');
    await sendUnsigned(res, await requestFor(actor, req.params.id));
  }));

  return api;
}
