// What the REST endpoints beside the commands answer (SPEC §8): the signing API for CI, its
// SignPath-compatible twin, sign-in and setup, health. The server's presenters are typed against
// these, and GET /api/v1/openapi.json publishes them.
import { z } from 'zod';
import { Id, Organization, SIGNATURE_FORMATS, SigningRequest } from './entities.js';
import { STORED_ROLES } from './permissions.js';

/** A signing request as the REST API presents it (SPEC §8). */
export const RestSigningRequest = SigningRequest.pick({
  id: true,
  status: true,
  workflowStatus: true,
  isFinalStatus: true,
  projectSlug: true,
  artifact: true,
  description: true,
  parameters: true,
  origin: true,
  requiredApprovals: true,
  approvals: true,
  denials: true,
  preApproval: true,
  breakGlass: true,
  escalation: true,
  failureReason: true,
  signature: true,
  resubmittedFromId: true,
  createdAt: true,
  updatedAt: true,
  finishedAt: true,
  expiresAt: true,
})
  .extend({
    signingPolicySlug: z.string(),
    artifactConfigurationSlug: z.string(),
    signatureFormat: z.enum(SIGNATURE_FORMATS),
    submitter: z.object({ id: Id, name: z.string() }),
    links: z.object({
      self: z.string(),
      signedArtifact: z.string().nullable().describe('null until Completed'),
      unsignedArtifact: z.string(),
      resubmit: z.string(),
      console: z.string().describe("the request's page in the console"),
    }),
  });
export type RestSigningRequest = z.infer<typeof RestSigningRequest>;

/** A signing request as SignPath's "Get signing request data" presents it. */
export const SignPathSigningRequest = z
  .object({
    id: Id,
    status: z.string().describe('InProgress, WaitingForApproval, Completed, Failed, Denied or Canceled (SignPath has no Submitted or Queued)'),
    workflowStatus: z.string(),
    isFinalStatus: z.boolean(),
    description: z.string(),
    projectId: Id,
    projectSlug: z.string(),
    projectName: z.string(),
    artifactConfigurationId: Id,
    artifactConfigurationSlug: z.string(),
    artifactConfigurationName: z.string(),
    signingPolicyId: Id,
    signingPolicySlug: z.string(),
    signingPolicyName: z.string(),
    unsignedArtifactLink: z.string(),
    signedArtifactLink: z.string().nullable().describe('null until Completed'),
    origin: z
      .object({
        buildData: z.object({ url: z.string().nullable() }),
        repositoryData: z.object({
          url: z.string().nullable(),
          branchName: z.string().nullable(),
          commitId: z.string().nullable(),
          sourceControlManagementType: z.literal('git'),
        }),
      })
      .optional()
      .describe('verified requests only'),
    parameters: z.record(z.string(), z.string()),
  });
export type SignPathSigningRequest = z.infer<typeof SignPathSigningRequest>;

/** POST /api/v1/auth/login. */
export const LoginInput = z.strictObject({ email: z.string().max(254), password: z.string().max(256) });

/** Who signed in, and the organizations they belong to. */
export const SignedIn = z.object({
  user: z.object({ id: Id, email: z.string(), name: z.string(), operator: z.boolean().describe('an instance operator (the support team)') }),
  orgs: z.array(z.object({ slug: z.string(), name: z.string(), role: z.enum(STORED_ROLES) })),
});
export type SignedIn = z.infer<typeof SignedIn>;

export const SignedOut = z.object({ signedOut: z.literal(true) });
export type SignedOut = z.infer<typeof SignedOut>;
export const SetupStatus = z.object({ needed: z.boolean().describe('whether first-run setup is still to be done') });
export type SetupStatus = z.infer<typeof SetupStatus>;
export const SetupDone = z.object({ org: Organization });
export type SetupDone = z.infer<typeof SetupDone>;
export const Health = z.object({ ok: z.literal(true), node: z.string().describe("this node's id") });
export type Health = z.infer<typeof Health>;
export const Ready = z.object({ ok: z.literal(true) });
export type Ready = z.infer<typeof Ready>;
