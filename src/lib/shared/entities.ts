// The shapes that leave the server: command results, `change` event payloads, audit entries.
// Secrets (password hashes, key hashes, session ids, private keys) have no field here, so a
// presenter cannot leak one by accident.
import { z } from 'zod';
import { PERMISSIONS, STORED_ROLES } from './permissions.js';
import { WEBHOOK_EVENTS } from './signing.js';

export const Id = z.string().min(1).max(64);
export const Timestamp = z.string().describe('ISO 8601, UTC');

/** What every record an organization owns starts with: its own id, and the organization's. */
const InOrganization = { id: Id, orgId: Id };
/** A record that belongs to one project of the organization. */
const InProject = { ...InOrganization, projectId: Id };
/** When a record was made, and the version a stale edit is told apart by (CONFLICT). */
const Versioned = { createdAt: Timestamp, version: z.number().int() };

export const Organization = z.object({
  id: Id,
  slug: z.string(),
  name: z.string(),
  openSource: z.boolean(),
  supportAuthorized: z.boolean(),
  ownerId: Id,
  ...Versioned,
});
export type Organization = z.infer<typeof Organization>;

export const MemberKind = z.enum(['user', 'ciUser']);
export const Member = z.object({
  userId: Id,
  orgId: Id,
  kind: MemberKind,
  email: z.string(),
  name: z.string(),
  role: z.enum(STORED_ROLES),
  joinedAt: Timestamp,
  version: z.number().int(),
});
export type Member = z.infer<typeof Member>;

export const Invitation = z.object({
  ...InOrganization,
  email: z.string(),
  role: z.enum(STORED_ROLES),
  invitedBy: Id,
  createdAt: Timestamp,
  expiresAt: Timestamp,
});
export type Invitation = z.infer<typeof Invitation>;

export const ApiKey = z.object({
  ...InOrganization,
  ownerId: Id,
  name: z.string(),
  prefix: z.string().describe('the first characters of the secret, to recognize it'),
  permissions: z.array(z.enum(PERMISSIONS)),
  createdAt: Timestamp,
  createdBy: Id,
  expiresAt: Timestamp.nullable(),
  lastUsedAt: Timestamp.nullable(),
  ancestry: z
    .array(Id)
    .describe('the API keys this key was created with, its parent first (empty: created by a person); it expires no later than any of them and is revoked with each'),
  version: z.number().int(),
});
export type ApiKey = z.infer<typeof ApiKey>;

export const ActorType = z.enum(['user', 'ciUser', 'apiKey', 'support', 'operator', 'system', 'anonymous']);
export type ActorType = z.infer<typeof ActorType>;

export const AuditActor = z.object({
  type: ActorType,
  id: z.string(),
  name: z.string(),
  /** For an API key: the user the key belongs to. */
  onBehalfOf: z.object({ id: z.string(), name: z.string() }).optional(),
  /** The API key a CI user acted with. */
  apiKey: z.object({ id: z.string(), name: z.string() }).optional(),
});
export type AuditActor = z.infer<typeof AuditActor>;

export const AuditEntry = z.object({
  seq: z.number().int().describe('position in the organization\'s audit chain, from 1'),
  id: Id,
  time: Timestamp,
  orgId: z.string(),
  actor: AuditActor,
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string(), name: z.string() }),
  changes: z.record(z.string(), z.object({ before: z.unknown(), after: z.unknown() })),
  outcome: z.enum(['ok', 'denied', 'failed']),
  reason: z.string().optional(),
  source: z.object({
    via: z.enum(['socket', 'rest', 'cli', 'system']),
    ip: z.string().optional(),
    userAgent: z.string().optional(),
  }),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const Notification = z.object({
  id: Id,
  userId: Id,
  orgId: Id,
  kind: z.string(),
  title: z.string(),
  body: z.string(),
  link: z.string().nullable(),
  policyId: Id.nullable(),
  createdAt: Timestamp,
  readAt: Timestamp.nullable(),
});
export type Notification = z.infer<typeof Notification>;

export const NotificationLevel = z.enum(['all', 'default', 'none']);
export type NotificationLevel = z.infer<typeof NotificationLevel>;

// ——— Code signing (SPEC §4) ———

export const Project = z.object({
  ...InOrganization,
  slug: z.string(),
  name: z.string(),
  status: z.enum(['active', 'inactive']),
  repositoryUrl: z.string().nullable(),
  description: z.string(),
  ...Versioned,
});
export type Project = z.infer<typeof Project>;

/** How a request's artifact is signed (SPEC §4 "Signature formats"); chosen per artifact configuration. */
export const SIGNATURE_FORMATS = ['cms-detached', 'authenticode', 'openpgp-detached'] as const;
export type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];

export const ArtifactConfiguration = z.object({
  ...InProject,
  slug: z.string(),
  name: z.string(),
  fileNamePattern: z.string().describe('glob, e.g. *.exe or **/*.jar'),
  maxSizeBytes: z.number().int(),
  signatureFormat: z.enum(SIGNATURE_FORMATS),
  isDefault: z.boolean(),
  ...Versioned,
});
export type ArtifactConfiguration = z.infer<typeof ArtifactConfiguration>;

export const CERTIFICATE_ALGORITHMS = ['RSA-2048', 'RSA-3072', 'ECDSA-P256'] as const;
/** Where a certificate's private key lives: sealed in Redis under the master key, or in the PKCS#11 token. */
export const KEY_CUSTODIES = ['software', 'pkcs11'] as const;
export type KeyCustody = (typeof KEY_CUSTODIES)[number];

export const Certificate = z.object({
  ...InOrganization,
  slug: z.string(),
  name: z.string(),
  type: z.enum(['test', 'release']),
  /** generated: self-signed here; imported: certificate and key imported; requested: key and CSR made here, certificate issued by a CA. */
  source: z.enum(['generated', 'imported', 'requested']),
  custody: z.enum(KEY_CUSTODIES).describe('where the private key lives: sealed in Redis (software) or in the PKCS#11 token'),
  /** The key and its CSR exist; the CA's certificate has not been imported yet, so it cannot sign. */
  awaitingCertificate: z.boolean(),
  algorithm: z.string(),
  subject: z.string(),
  issuer: z.string().nullable(),
  serialNumber: z.string().nullable(),
  notBefore: Timestamp.nullable(),
  notAfter: Timestamp.nullable(),
  fingerprintSha256: z.string().nullable(),
  certificatePem: z.string().nullable().describe('the public certificate (null while awaiting it); the private key never leaves the server or token'),
  /** The CA certificates that came with an issued certificate, PEM, leaf excluded. */
  chainPem: z.string().nullable(),
  /** What an admin should know, e.g. an issued certificate without the code-signing extended key usage. */
  warnings: z.array(z.string()),
  /** The certificate's OpenPGP key (made by Signet for openpgp-detached signatures), ASCII-armored public part. */
  openpgpPublicKey: z.string().nullable().optional(),
  openpgpFingerprint: z.string().nullable().optional(),
  disabled: z.boolean(),
  ...Versioned,
});
export type Certificate = z.infer<typeof Certificate>;

export const SigningPolicy = z.object({
  ...InProject,
  slug: z.string(),
  name: z.string(),
  certificateId: Id,
  submitters: z.array(Id),
  approvers: z.array(Id),
  requiredApprovals: z.number().int(),
  originVerification: z.boolean(),
  allowedBranches: z.array(z.string()),
  /** RFC 3161 time-stamping authority; null (or absent, on policies made before timestamps): the installation's. */
  tsaUrl: z.string().nullable().optional(),
  /** When the TSA does not answer: sign without a timestamp (marked on the request) instead of failing. */
  allowWithoutTimestamp: z.boolean().optional(),
  /** Told (and then allowed to decide) when a request has waited escalateAfterMinutes; absent on older policies: none. */
  backupApprovers: z.array(Id).optional(),
  /** How long a request waits before the backup approvers are told; null or absent: never. */
  escalateAfterMinutes: z.number().int().nullable().optional(),
  /** Whether an administrator may approve a request of this policy alone, with a reason (break-glass). */
  allowBreakGlass: z.boolean().optional(),
  ...Versioned,
});
export type SigningPolicy = z.infer<typeof SigningPolicy>;

export const BuildSystem = z.object({
  ...InOrganization,
  name: z.string(),
  issuer: z.string(),
  audience: z.string(),
  jwksUrl: z.string().nullable(),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).nullable(),
  ...Versioned,
});
export type BuildSystem = z.infer<typeof BuildSystem>;

export const Webhook = z.object({
  ...InProject,
  url: z.string(),
  /** The status changes it is called on (webhooks made before events existed: the final statuses). */
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  ...Versioned,
});
export type Webhook = z.infer<typeof Webhook>;

/** Chat services whose incoming webhooks a project can post to (SPEC §5). */
export const CHAT_SERVICES = ['slack', 'teams', 'mattermost'] as const;
export type ChatService = (typeof CHAT_SERVICES)[number];

export const ChatChannel = z.object({
  ...InProject,
  service: z.enum(CHAT_SERVICES),
  name: z.string(),
  /** The incoming-webhook URL is a secret (whoever has it may post): only its host and last characters are shown. */
  urlHint: z.string(),
  ...Versioned,
});
export type ChatChannel = z.infer<typeof ChatChannel>;

export const Decision = z.object({ userId: Id, name: z.string(), comment: z.string(), at: Timestamp });
export type Decision = z.infer<typeof Decision>;

/** What lives under a signing policy (requests, grants): its own id, and where it belongs. */
const UnderPolicy = {
  ...InProject,
  projectSlug: z.string(),
  policyId: Id,
  policySlug: z.string(),
};

export const PersonRef = z.object({ userId: Id, name: z.string() });
export type PersonRef = z.infer<typeof PersonRef>;

/**
 * A pre-approved window (SPEC §4 "Approving without stalling"): a policy's approvers grant a
 * submitter up to `maxSignatures` signatures within `hours` of the grant becoming active, which it
 * does once `requiredCosigners` distinct approvers (the proposer first) have co-signed it.
 */
export const ApprovalGrant = z.object({
  ...UnderPolicy,
  granteeId: Id,
  granteeName: z.string(),
  maxSignatures: z.number().int(),
  used: z.number().int(),
  hours: z.number(),
  requiredCosigners: z.number().int(),
  /** The approvers who signed the grant, the proposer first; each `at` is when they did. */
  cosigners: z.array(z.object({ userId: Id, name: z.string(), at: Timestamp })),
  /** Stored status; expiry is read from the times (see grantState). */
  status: z.enum(['proposed', 'active', 'usedUp', 'revoked']),
  comment: z.string(),
  createdAt: Timestamp,
  /** A proposal not fully co-signed by then lapses. */
  proposalExpiresAt: Timestamp,
  activatedAt: Timestamp.nullable(),
  /** activatedAt + hours: the window closes then. */
  expiresAt: Timestamp.nullable(),
  revokedBy: PersonRef.nullable(),
  revokedAt: Timestamp.nullable(),
  revokeReason: z.string().nullable(),
  version: z.number().int(),
});
export type ApprovalGrant = z.infer<typeof ApprovalGrant>;

/** What a request pre-approved by a grant records as its approval. */
export const PreApproval = z.object({
  grantId: Id,
  cosigners: z.array(PersonRef),
  /** Which of the grant's signatures this request was (1 = the first). */
  signature: z.number().int(),
  maxSignatures: z.number().int(),
});
export type PreApproval = z.infer<typeof PreApproval>;

/** An administrator approved alone, with a reason (a policy that allows it). */
export const BreakGlass = z.object({ userId: Id, name: z.string(), reason: z.string(), at: Timestamp });
export type BreakGlass = z.infer<typeof BreakGlass>;

/** A waiting request's escalation: online approvers nudged halfway, backup approvers told at the end of the wait. */
export const Escalation = z.object({
  afterMinutes: z.number().int(),
  nudgeAt: Timestamp,
  escalateAt: Timestamp,
  nudgedAt: Timestamp.nullable(),
  nudged: z.array(PersonRef),
  escalatedAt: Timestamp.nullable(),
  backups: z.array(PersonRef),
});
export type Escalation = z.infer<typeof Escalation>;

export const Origin = z.object({
  verified: z.boolean(),
  repository: z.string().nullable(),
  repositoryUrl: z.string().nullable(),
  branch: z.string().nullable(),
  commit: z.string().nullable(),
  buildUrl: z.string().nullable(),
  issuer: z.string().nullable(),
  buildSystemId: z.string().nullable(),
});
export type Origin = z.infer<typeof Origin>;

export const SignatureTimestamp = z.object({
  time: Timestamp.describe('the time the TSA certified'),
  tsaUrl: z.string(),
});
export type SignatureTimestamp = z.infer<typeof SignatureTimestamp>;

/** What the worker produced. Fields after certificateId are absent on signatures made before formats existed. */
export const SignatureInfo = z.object({
  sha256: z.string().describe('of the file the signed-artifact download returns'),
  size: z.number().int(),
  certificateId: Id,
  format: z.enum(SIGNATURE_FORMATS).optional(),
  /** The download's name: app.exe.p7s, app.exe (Authenticode, signed in place), app.tar.gz.asc. */
  fileName: z.string().optional(),
  timestamp: SignatureTimestamp.nullable().optional(),
  /** Why the signature carries no RFC 3161 timestamp (none configured, the TSA did not answer and the policy allows it, or OpenPGP). */
  noTimestampReason: z.string().nullable().optional(),
});
export type SignatureInfo = z.infer<typeof SignatureInfo>;

export const SigningRequest = z.object({
  ...UnderPolicy,
  artifactConfigId: Id,
  artifactConfigSlug: z.string(),
  artifact: z.object({ fileName: z.string(), size: z.number().int(), sha256: z.string() }),
  description: z.string(),
  parameters: z.record(z.string(), z.string()),
  origin: Origin.nullable(),
  submitterId: Id,
  submitterName: z.string(),
  requiredApprovals: z.number().int(),
  approvals: z.array(Decision),
  denials: z.array(Decision),
  status: z.string(),
  workflowStatus: z.string(),
  isFinalStatus: z.boolean(),
  failureReason: z.string().nullable(),
  resubmittedFromId: Id.nullable(),
  /** The artifact configuration's format when the request was submitted (absent on older requests: cms-detached). */
  signatureFormat: z.enum(SIGNATURE_FORMATS).optional(),
  signature: SignatureInfo.nullable(),
  /** Set when a pre-approved window stood in for manual approval (absent on older requests). */
  preApproval: PreApproval.nullable().optional(),
  /** Set when an administrator approved alone (break-glass). */
  breakGlass: BreakGlass.nullable().optional(),
  /** Set when the policy escalates waiting requests. */
  escalation: Escalation.nullable().optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  expiresAt: Timestamp.nullable(),
  finishedAt: Timestamp.nullable(),
  version: z.number().int(),
});
export type SigningRequest = z.infer<typeof SigningRequest>;
