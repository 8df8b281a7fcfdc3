// The protocol both sides speak (SPEC §7): each command's name, the permission it needs, its input
// and its result, declared once in `commandDeclarations`. The server's handler for a command
// (server/commands/*, defineCommand) takes the permission and input from here and must return the
// result's type; the console's `command()` is typed from here; GET /api/v1/openapi.json and
// /api/v1/protocol.json publish these schemas.
import { z } from 'zod';
import { ASSIGNABLE_ROLES, PERMISSIONS, type Permission } from './permissions.js';
import {
  ApiKey,
  ApprovalGrant,
  ArtifactConfiguration,
  BuildSystem,
  Certificate,
  CERTIFICATE_ALGORITHMS,
  CHAT_SERVICES,
  ChatChannel,
  Id,
  Invitation,
  KEY_CUSTODIES,
  Member,
  NotificationLevel,
  Organization,
  Project,
  SIGNATURE_FORMATS,
  SigningPolicy,
  SigningRequest,
  Webhook,
} from './entities.js';
import { DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, WORKFLOW_STATUSES } from './signing.js';
import { DashboardStats, MAX_STATS_DAYS } from './stats.js';
import { BREAK_GLASS_REASON_MIN, GRANT_LIMITS } from './approvals.js';
import {
  AuditPage,
  AuditVerification,
  Deleted,
  Me,
  MemberRemoved,
  NewApiKey,
  NewCiUser,
  NewInvitation,
  NewWebhook,
  NotificationPage,
  NotificationSettings,
  PresenceEntry,
  ProjectDetails,
  RequestDetails,
  RequestPage,
} from './results.js';

/** Bounds that keep every list and string finite (SPEC §10). */
export const LIMITS = {
  name: 120,
  text: 2000,
  pageSize: 200,
  listInput: 100,
} as const;

export const Slug = z
  .string()
  .min(2)
  .max(64)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and inner dashes');
export const Email = z.string().max(254).email().transform((email) => email.toLowerCase());
export const Name = z.string().trim().min(1).max(LIMITS.name);
export const Password = z.string().min(12, 'at least 12 characters').max(256);
export const EntityId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an id: letters, digits, _ and -');
export const Version = z.number().int().min(1).describe('the version you read: a stale one gets CONFLICT');
export const Cursor = z.string().max(64).optional();
export const PageSize = z.number().int().min(1).max(LIMITS.pageSize).optional();
export const IsoTime = z.iso.datetime({ offset: true });

const empty = z.strictObject({});

export const RepositoryUrl = z.url({ protocol: /^https?$/ }).max(300);
export const Glob = z.string().trim().min(1).max(200).regex(/^[^\s\u0000]+$/, 'no spaces');
export const Description = z.string().max(LIMITS.text);
export const Comment = z.string().trim().max(LIMITS.text);
/** Largest artifact any configuration may accept (2 GiB). */
export const MAX_ARTIFACT_BYTES = 2 * 1024 ** 3;
const IdList = z.array(EntityId).max(LIMITS.listInput);
/** A URL Signet will send requests to: http(s), no credentials in it. */
const HookUrl = (why: string) =>
  z
    .url({ protocol: /^https?$/ })
    .max(500)
    .refine((url) => !/^https?:\/\/[^/]*@/.test(url), `must not carry credentials (${why})`);
/** Webhook events, each at most once, kept in lifecycle order. */
const WebhookEvents = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1, 'subscribe to at least one event')
  .max(WEBHOOK_EVENTS.length)
  .transform((events) => WEBHOOK_EVENTS.filter((event) => events.includes(event)));

const ProjectFields = {
  slug: Slug,
  name: Name,
  repositoryUrl: RepositoryUrl.nullable(),
  description: Description,
  status: z.enum(['active', 'inactive']),
};

const ArtifactConfigFields = {
  slug: Slug,
  name: Name,
  fileNamePattern: Glob,
  maxSizeBytes: z.number().int().min(1).max(MAX_ARTIFACT_BYTES),
  isDefault: z.boolean(),
};

const PolicyFields = {
  slug: Slug,
  name: Name,
  certificateId: EntityId,
  submitters: IdList,
  approvers: IdList,
  requiredApprovals: z.number().int().min(0).max(20),
  originVerification: z.boolean(),
  allowedBranches: z.array(Glob).max(50),
  tsaUrl: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .refine((url) => !/^https?:\/\/[^/]*@/.test(url), 'must not carry credentials')
    .nullable()
    .describe("RFC 3161 time-stamping authority for this policy's CMS and Authenticode signatures; null: the installation's"),
  allowWithoutTimestamp: z.boolean().describe('when the TSA does not answer, sign without a timestamp (marked on the request) instead of failing'),
  backupApprovers: IdList.describe('told when a request has waited escalateAfterMinutes, and from then on may approve or deny it'),
  escalateAfterMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .nullable()
    .describe('how long a request waits before the backup approvers are told (online approvers are nudged halfway); null: never'),
  allowBreakGlass: z.boolean().describe('an owner or admin may approve a request alone, with a reason every approver and admin hears about'),
};

const CertificateBase = {
  slug: Slug,
  name: Name,
  type: z.enum(['test', 'release']),
};

/** A distinguished-name attribute: trimmed, at most `max` characters (X.520 upper bounds), no control characters. */
const NamePart = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((text) => !/[\u0000-\u001f\u007f]/.test(text), 'no control characters');

/** The subject of a certificate signing request, as the admin enters it. */
export const CsrSubjectFields = {
  commonName: NamePart(64).describe('CN: usually the organization’s legal name, as the CA will verify it'),
  organization: NamePart(64).optional().describe('O'),
  organizationalUnit: NamePart(64).optional().describe('OU'),
  locality: NamePart(128).optional().describe('L: city'),
  state: NamePart(128).optional().describe('ST: state or province, spelled out'),
  country: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{2}$/, 'a two-letter ISO 3166 country code, e.g. DE')
    .transform((code) => code.toUpperCase())
    .optional()
    .describe('C'),
  email: z.string().trim().max(128).email().optional().describe('emailAddress'),
};

const KeyCustody = z.enum(KEY_CUSTODIES).describe('software: sealed in Redis under the master key; pkcs11: generated in the PKCS#11 token, never extractable');

/** One command of the protocol. */
export interface CommandDeclaration {
  /** What the actor's role (or key) must allow; null: any member may run it (it only touches their own data). */
  permission: Permission | null;
  input: z.ZodType;
  /** What `{ ok: true, result }` carries. */
  result: z.ZodType;
}

/**
 * Every command, declared once. Adding one: an entry here (permission, input, result), its handler
 * with defineCommand in server/commands/, a line in server/commands/registry.ts, and an example
 * input in test/server/security/fixture.ts (the types insist on the last two).
 */
export const commandDeclarations = {
  'me.get': {
    permission: null,
    input: empty,
    result: Me,
  },
  'org.get': {
    permission: null,
    input: empty,
    result: Organization,
  },
  'org.update': {
    permission: 'team:manage',
    input: z.strictObject({ name: Name, version: Version }),
    result: Organization,
  },
  'org.delete': {
    permission: 'org:delete',
    input: z.strictObject({ confirmSlug: Slug.describe('the organization slug, typed to confirm') }),
    result: z.object({ deleted: z.literal(true) }),
  },

  'member.list': {
    permission: 'team:read',
    input: empty,
    result: z.array(Member),
  },
  'member.invite': {
    permission: 'team:manage',
    input: z.strictObject({ email: Email, role: z.enum(ASSIGNABLE_ROLES) }),
    result: NewInvitation,
  },
  'member.changeRole': {
    permission: 'team:manage',
    input: z.strictObject({ userId: EntityId, role: z.enum(ASSIGNABLE_ROLES), version: Version }),
    result: Member,
  },
  'member.remove': {
    permission: 'team:manage',
    input: z.strictObject({ userId: EntityId }),
    result: MemberRemoved,
  },
  'invite.list': {
    permission: 'team:manage',
    input: empty,
    result: z.array(Invitation),
  },
  'invite.revoke': {
    permission: 'team:manage',
    input: z.strictObject({ inviteId: EntityId }),
    result: z.object({ revoked: Id }),
  },

  'ciUser.create': {
    permission: 'team:manage',
    input: z.strictObject({ name: Name, role: z.enum(['member', 'viewer']).default('member') }),
    result: NewCiUser,
  },
  'ciUser.remove': {
    permission: 'team:manage',
    input: z.strictObject({ userId: EntityId }),
    result: MemberRemoved,
  },

  'support.authorize': {
    permission: 'team:manage',
    input: empty,
    result: Organization,
  },
  'support.disable': {
    permission: 'team:manage',
    input: empty,
    result: Organization,
  },

  'apiKey.list': {
    permission: null,
    input: empty,
    result: z.array(ApiKey),
  },
  'apiKey.create': {
    permission: 'apikey:write',
    input: z.strictObject({
      name: Name,
      permissions: z.array(z.enum(PERMISSIONS)).min(1).max(PERMISSIONS.length),
      expiresAt: IsoTime.nullable()
        .default(null)
        .describe('null or absent: never, or for a key created with an API key, when that key expires (a later time is refused)'),
      ciUserId: EntityId.optional().describe('create the key for this CI user (needs team:manage)'),
    }),
    result: NewApiKey.extend({ inheritedExpiry: z.boolean().describe("the expiry was not chosen: it is the creating key's") }),
  },
  'apiKey.revoke': {
    permission: 'apikey:write',
    input: z.strictObject({ keyId: EntityId }),
    result: z.object({ revoked: Id, alsoRevoked: z.array(Id).describe('the keys created with it, revoked along') }),
  },

  'audit.query': {
    permission: 'audit:read',
    input: z.strictObject({
      actorId: z.string().max(64).optional(),
      action: z.string().max(64).optional(),
      targetType: z.string().max(64).optional(),
      targetId: z.string().max(64).optional(),
      from: IsoTime.optional(),
      to: IsoTime.optional(),
      before: z.number().int().min(1).optional().describe('cursor: entries with a lower seq (newest first)'),
      limit: PageSize,
    }),
    result: AuditPage,
  },
  'audit.verify': {
    permission: 'audit:read',
    input: empty,
    result: AuditVerification,
  },

  'notification.list': {
    permission: null,
    input: z.strictObject({ unreadOnly: z.boolean().default(false), limit: PageSize }),
    result: NotificationPage,
  },
  'notification.markRead': {
    permission: null,
    input: z.union([
      z.strictObject({ ids: z.array(EntityId).min(1).max(LIMITS.listInput) }),
      z.strictObject({ all: z.literal(true) }),
    ]),
    result: z.object({ marked: z.number().int(), unreadCount: z.number().int() }),
  },
  'notification.settings': {
    permission: null,
    input: z.strictObject({
      set: z
        .array(z.strictObject({ policyId: EntityId, level: NotificationLevel }))
        .max(LIMITS.listInput)
        .optional(),
      email: z.boolean().optional().describe('whether notifications also come by email (the per-policy levels apply to both)'),
    }),
    result: NotificationSettings,
  },

  'presence.update': {
    permission: null,
    input: z.strictObject({ page: z.string().max(200) }),
    result: z.object({ online: z.array(PresenceEntry) }),
  },

  'project.list': {
    permission: 'config:read',
    input: empty,
    result: z.array(Project),
  },
  'project.get': {
    permission: 'config:read',
    input: z.strictObject({ projectId: EntityId }),
    result: ProjectDetails,
  },
  'project.create': {
    permission: 'config:write',
    input: z.strictObject({
      slug: ProjectFields.slug,
      name: ProjectFields.name,
      repositoryUrl: ProjectFields.repositoryUrl.default(null),
      description: ProjectFields.description.default(''),
    }),
    result: z.object({ project: Project, defaultArtifactConfig: ArtifactConfiguration }),
  },
  'project.update': {
    permission: 'config:write',
    input: z.strictObject({
      projectId: EntityId,
      version: Version,
      slug: ProjectFields.slug.optional(),
      name: ProjectFields.name.optional(),
      repositoryUrl: ProjectFields.repositoryUrl.optional(),
      description: ProjectFields.description.optional(),
      status: ProjectFields.status.optional(),
    }),
    result: Project,
  },
  'project.delete': {
    permission: 'project:delete',
    input: z.strictObject({ projectId: EntityId, confirmSlug: Slug.describe('the project slug, typed to confirm') }),
    result: Deleted,
  },

  'artifactConfig.list': {
    permission: 'config:read',
    input: z.strictObject({ projectId: EntityId }),
    result: z.array(ArtifactConfiguration),
  },
  'artifactConfig.create': {
    permission: 'config:write',
    input: z.strictObject({
      projectId: EntityId,
      slug: ArtifactConfigFields.slug,
      name: ArtifactConfigFields.name,
      fileNamePattern: ArtifactConfigFields.fileNamePattern.default('*'),
      maxSizeBytes: ArtifactConfigFields.maxSizeBytes.default(100 * 1024 ** 2),
      signatureFormat: z.enum(SIGNATURE_FORMATS).default('cms-detached'),
      isDefault: ArtifactConfigFields.isDefault.default(false),
    }),
    result: ArtifactConfiguration,
  },
  'artifactConfig.update': {
    permission: 'config:write',
    input: z.strictObject({
      artifactConfigId: EntityId,
      version: Version,
      name: ArtifactConfigFields.name.optional(),
      fileNamePattern: ArtifactConfigFields.fileNamePattern.optional(),
      maxSizeBytes: ArtifactConfigFields.maxSizeBytes.optional(),
      signatureFormat: z.enum(SIGNATURE_FORMATS).optional(),
      isDefault: z.literal(true).optional().describe('make this the project default'),
    }),
    result: ArtifactConfiguration,
  },
  'artifactConfig.delete': {
    permission: 'config:write',
    input: z.strictObject({ artifactConfigId: EntityId }),
    result: Deleted,
  },

  'certificate.list': {
    permission: 'config:read',
    input: empty,
    result: z.array(Certificate),
  },
  'certificate.generate': {
    permission: 'certificate:write',
    input: z.strictObject({
      ...CertificateBase,
      custody: KeyCustody.default('software'),
      algorithm: z.enum(CERTIFICATE_ALGORITHMS).default('ECDSA-P256'),
      commonName: CsrSubjectFields.commonName,
      organization: CsrSubjectFields.organization,
      validDays: z.number().int().min(1).max(3650).default(365),
    }),
    result: Certificate,
  },
  'certificate.import': {
    permission: 'certificate:write',
    input: z.discriminatedUnion('format', [
      z.strictObject({
        ...CertificateBase,
        format: z.literal('pem'),
        certificatePem: z.string().min(1).max(20_000),
        privateKeyPem: z.string().min(1).max(20_000),
        passphrase: z.string().max(1000).optional(),
      }),
      z.strictObject({
        ...CertificateBase,
        format: z.literal('pkcs12'),
        pkcs12Base64: z.base64().min(1).max(100_000),
        password: z.string().max(1000),
      }),
    ]),
    result: Certificate,
  },
  'certificate.generateCsr': {
    permission: 'certificate:write',
    input: z.strictObject({
      ...CertificateBase,
      custody: KeyCustody,
      algorithm: z.enum(CERTIFICATE_ALGORITHMS).default('ECDSA-P256'),
      ...CsrSubjectFields,
    }),
    result: Certificate,
  },
  'certificate.downloadCsr': {
    permission: 'certificate:write',
    input: z.strictObject({ certificateId: EntityId }),
    result: z.object({ fileName: z.string(), csrPem: z.string() }),
  },
  'certificate.importIssued': {
    permission: 'certificate:write',
    input: z.strictObject({
      certificateId: EntityId,
      version: Version,
      certificatePem: z.string().min(1).max(100_000).describe('the certificate the CA issued, PEM, optionally followed by its chain'),
    }),
    result: Certificate,
  },
  'certificate.update': {
    permission: 'certificate:write',
    input: z.strictObject({
      certificateId: EntityId,
      version: Version,
      name: Name.optional(),
      disabled: z.boolean().optional(),
    }),
    result: Certificate,
  },

  'policy.list': {
    permission: 'config:read',
    input: z.strictObject({ projectId: EntityId.optional() }),
    result: z.array(SigningPolicy),
  },
  'policy.create': {
    permission: 'policy:write',
    input: z.strictObject({
      projectId: EntityId,
      slug: PolicyFields.slug,
      name: PolicyFields.name,
      certificateId: PolicyFields.certificateId,
      submitters: PolicyFields.submitters.default([]),
      approvers: PolicyFields.approvers.default([]),
      requiredApprovals: PolicyFields.requiredApprovals.default(0),
      originVerification: PolicyFields.originVerification.default(false),
      allowedBranches: PolicyFields.allowedBranches.default([]),
      tsaUrl: PolicyFields.tsaUrl.default(null),
      allowWithoutTimestamp: PolicyFields.allowWithoutTimestamp.default(false),
      backupApprovers: PolicyFields.backupApprovers.default([]),
      escalateAfterMinutes: PolicyFields.escalateAfterMinutes.default(null),
      allowBreakGlass: PolicyFields.allowBreakGlass.default(false),
    }),
    result: SigningPolicy,
  },
  'policy.update': {
    permission: 'policy:write',
    input: z.strictObject({
      policyId: EntityId,
      version: Version,
      slug: PolicyFields.slug.optional(),
      name: PolicyFields.name.optional(),
      certificateId: PolicyFields.certificateId.optional(),
      submitters: PolicyFields.submitters.optional(),
      approvers: PolicyFields.approvers.optional(),
      requiredApprovals: PolicyFields.requiredApprovals.optional(),
      originVerification: PolicyFields.originVerification.optional(),
      allowedBranches: PolicyFields.allowedBranches.optional(),
      tsaUrl: PolicyFields.tsaUrl.optional(),
      allowWithoutTimestamp: PolicyFields.allowWithoutTimestamp.optional(),
      backupApprovers: PolicyFields.backupApprovers.optional(),
      escalateAfterMinutes: PolicyFields.escalateAfterMinutes.optional(),
      allowBreakGlass: PolicyFields.allowBreakGlass.optional(),
    }),
    result: SigningPolicy,
  },
  'policy.delete': {
    permission: 'policy:write',
    input: z.strictObject({ policyId: EntityId }),
    result: Deleted,
  },

  'buildSystem.list': {
    permission: 'config:read',
    input: empty,
    result: z.array(BuildSystem),
  },
  'buildSystem.create': {
    permission: 'policy:write',
    input: z
      .strictObject({
        name: Name,
        issuer: z.url({ protocol: /^https?$/ }).max(300),
        audience: z.string().min(1).max(300),
        jwksUrl: z.url({ protocol: /^https?$/ }).max(500).optional(),
        jwks: z
          .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(20) })
          .refine((jwks) => jwks.keys.every((key) => !['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((part) => part in key)), 'public keys only: a key has private parts')
          .optional(),
      })
      .refine((input) => (input.jwksUrl === undefined) !== (input.jwks === undefined), {
        message: 'give exactly one of jwksUrl or jwks',
        path: ['jwksUrl'],
      }),
    result: BuildSystem,
  },
  'buildSystem.delete': {
    permission: 'policy:write',
    input: z.strictObject({ buildSystemId: EntityId }),
    result: Deleted,
  },

  'webhook.list': {
    permission: 'config:read',
    input: z.strictObject({ projectId: EntityId }),
    result: z.array(Webhook),
  },
  'webhook.create': {
    permission: 'config:write',
    input: z.strictObject({
      projectId: EntityId,
      url: HookUrl('the payload is signed instead'),
      events: WebhookEvents.default([...DEFAULT_WEBHOOK_EVENTS]).describe('the status changes to be called on; default: the final statuses'),
    }),
    result: NewWebhook,
  },
  'webhook.update': {
    permission: 'config:write',
    input: z.strictObject({ webhookId: EntityId, version: Version, events: WebhookEvents }),
    result: Webhook,
  },
  'webhook.delete': {
    permission: 'config:write',
    input: z.strictObject({ webhookId: EntityId }),
    result: Deleted,
  },

  'chatChannel.list': {
    permission: 'config:read',
    input: z.strictObject({ projectId: EntityId }),
    result: z.array(ChatChannel),
  },
  'chatChannel.create': {
    permission: 'config:write',
    input: z.strictObject({
      projectId: EntityId,
      service: z.enum(CHAT_SERVICES),
      name: Name.describe('what people call the channel, e.g. #releases'),
      url: HookUrl('the URL itself is the secret').describe("the channel's incoming-webhook URL; kept sealed, shown only masked"),
    }),
    result: ChatChannel,
  },
  'chatChannel.delete': {
    permission: 'config:write',
    input: z.strictObject({ chatChannelId: EntityId }),
    result: Deleted,
  },

  'request.list': {
    permission: 'signing:read',
    input: z.strictObject({
      projectId: EntityId.optional(),
      workflowStatus: z.enum(WORKFLOW_STATUSES).optional(),
      submitterId: EntityId.optional(),
      awaitingMyApproval: z.boolean().optional(),
      before: z
        .string()
        .regex(/^\d{1,16}:[\w-]{1,64}$/, 'a nextBefore value from an earlier page')
        .optional()
        .describe('cursor: the nextBefore of the previous page'),
      limit: PageSize,
    }),
    result: RequestPage,
  },
  'request.get': {
    permission: 'signing:read',
    input: z.strictObject({ requestId: EntityId }),
    result: RequestDetails,
  },
  'request.approve': {
    permission: 'signing:approve',
    input: z.strictObject({ requestId: EntityId, comment: Comment.default('') }),
    result: SigningRequest,
  },
  'request.deny': {
    permission: 'signing:approve',
    input: z.strictObject({ requestId: EntityId, comment: Comment.min(1, 'say why') }),
    result: SigningRequest,
  },
  'request.cancel': {
    permission: 'signing:submit',
    input: z.strictObject({ requestId: EntityId, reason: Comment.default('') }),
    result: SigningRequest,
  },
  'request.breakGlass': {
    // And policy:write (rules.ts BREAK_GLASS_PERMISSIONS, checked by the handler): owners and admins.
    permission: 'signing:approve',
    input: z.strictObject({
      requestId: EntityId,
      reason: Comment.min(BREAK_GLASS_REASON_MIN, `say why approving alone cannot wait, in at least ${BREAK_GLASS_REASON_MIN} characters`),
    }),
    result: SigningRequest,
  },
  'request.resubmit': {
    permission: 'signing:submit',
    input: z.strictObject({
      requestId: EntityId,
      policyId: EntityId.optional().describe('another policy of the same project; default: the same'),
      description: Description.optional(),
      originToken: z.string().max(10_000).optional(),
    }),
    result: SigningRequest,
  },

  'grant.list': {
    permission: 'signing:read',
    input: z.strictObject({ policyId: EntityId }),
    result: z.array(ApprovalGrant),
  },
  'grant.propose': {
    permission: 'signing:approve',
    input: z.strictObject({
      policyId: EntityId,
      granteeId: EntityId.describe('a submitter of the policy (a person or CI user), never the proposer'),
      maxSignatures: z.number().int().min(1).max(GRANT_LIMITS.maxSignatures).describe('how many requests the window pre-approves'),
      hours: z
        .number()
        .positive()
        .max(GRANT_LIMITS.maxHours)
        .multipleOf(0.25)
        .describe('how long the window stays open once every co-signer has signed (quarter hours)'),
      comment: Comment.default('').describe('why, for the co-signers and the audit log'),
    }),
    result: ApprovalGrant,
  },
  'grant.cosign': {
    permission: 'signing:approve',
    input: z.strictObject({ grantId: EntityId }),
    result: ApprovalGrant,
  },
  'grant.revoke': {
    permission: 'signing:approve',
    input: z.strictObject({ grantId: EntityId, reason: Comment.default('') }),
    result: ApprovalGrant,
  },

  'dashboard.stats': {
    permission: 'signing:read',
    input: z.strictObject({
      days: z.number().int().min(1).max(MAX_STATS_DAYS).default(30).describe('the period, in days ending today (UTC)'),
    }),
    result: DashboardStats,
  },
} as const satisfies Record<string, CommandDeclaration>;

export type CommandName = keyof typeof commandDeclarations;
export const COMMAND_NAMES = Object.keys(commandDeclarations) as CommandName[];

type Declared<N extends CommandName> = (typeof commandDeclarations)[N];
export type CommandInput<N extends CommandName> = z.input<Declared<N>['input']>;
export type ParsedCommandInput<N extends CommandName> = z.output<Declared<N>['input']>;
/** What a command answers: the server's handler must return it, the console's `command()` resolves to it. */
export type CommandResult<N extends CommandName> = z.output<Declared<N>['result']>;

const each = <K extends keyof CommandDeclaration>(part: K) =>
  Object.fromEntries(COMMAND_NAMES.map((name) => [name, commandDeclarations[name][part]])) as { [N in CommandName]: Declared<N>[K] };

/** Each command's input schema. */
export const commandInputs = each('input');
/** Each command's result schema. */
export const commandResults = each('result');
/** Each command's permission (null: any member). */
export const commandPermissions = each('permission');

export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'INVALID_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const InputIssue = z.object({ path: z.string().describe('the field, dotted (e.g. set.0.policyId)'), message: z.string() });
export type InputIssue = z.infer<typeof InputIssue>;

export const CommandError = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string().describe('meant for the user: names the problem'),
  issues: z.array(InputIssue).optional().describe('with INVALID_INPUT: each field and what is wrong with it'),
  current: z.unknown().optional().describe('with CONFLICT on a stale update: the entity as it is now'),
  retryAfterMs: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('with RATE_LIMITED: how long to wait before trying again (REST sends it as Retry-After, in seconds)'),
});
export type CommandError = z.infer<typeof CommandError>;

/** What a refused command (or REST call) answers. */
export const ErrorEnvelope = z.object({ ok: z.literal(false), error: CommandError, replayed: z.literal(true).optional() });

/** What a command that succeeded answers, with its declared result. */
export const resultEnvelope = <R extends z.ZodType>(result: R) =>
  z.object({
    ok: z.literal(true),
    result,
    replayed: z.literal(true).optional().describe('this is the stored answer of an earlier attempt with the same request id (Idempotency-Key)'),
  });

/**
 * `replayed`: this is the stored answer of an earlier attempt with the same request id (see
 * CommandOptions), not a second application.
 */
export type CommandAck<R = unknown> = { ok: true; result: R; replayed?: true } | { ok: false; error: CommandError; replayed?: true };

/**
 * A request id the client chooses for one command (a UUID, say): printable ASCII without spaces,
 * up to 200 characters. Over REST it is the `Idempotency-Key` header.
 */
export const RequestId = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/**
 * The optional envelope of a command, beside its name and input:
 * `socket.emit("command", name, input, { requestId }, ack)`.
 *
 * With a request id, a command is applied at most once: a retry with the same id (after an
 * UNAVAILABLE whose outcome was unknown, or a lost connection) gets the first attempt's answer,
 * marked `replayed`, for 24 hours. Ids are per actor (user or API key) and organization; one used for
 * another command or other input is refused (INVALID_INPUT). A retry while the first attempt still
 * runs waits for it, up to the command deadline.
 */
export const CommandOptions = z.strictObject({ requestId: RequestId.optional() });
export type CommandOptions = z.infer<typeof CommandOptions>;
