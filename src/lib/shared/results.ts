// What commands answer, where it is more than one entity: the schemas commands.ts names as results
// (types by z.infer), published in the OpenAPI document and the protocol document.
import { z } from 'zod';
import { PERMISSIONS, STORED_ROLES } from './permissions.js';
import {
  ApiKey,
  ArtifactConfiguration,
  AuditActor,
  AuditEntry,
  Id,
  Invitation,
  Member,
  Notification,
  NotificationLevel,
  Organization,
  Origin,
  Project,
  SigningPolicy,
  SigningRequest,
  Timestamp,
  Webhook,
} from './entities.js';

export const Me = z.object({
  actor: AuditActor,
  user: z.object({ id: Id, email: z.string(), name: z.string(), kind: z.enum(['user', 'ciUser']) }).nullable().describe('null for an API key or CI user'),
  org: Organization,
  role: z.enum(STORED_ROLES),
  rolePermissions: z.array(z.enum(PERMISSIONS)).describe('what the role may do'),
  permissions: z.array(z.enum(PERMISSIONS)).describe('what this principal may do: for an API key, its permissions within its owner\'s role'),
});
export type Me = z.infer<typeof Me>;

export const AuditPage = z.object({
  entries: z.array(AuditEntry),
  nextBefore: z.number().int().nullable().describe('pass as `before` for the next (older) page; null at the end'),
  checkpoint: z.string().nullable().optional().describe("on the first page (no `before`): the log's current signed checkpoint note, null before the first seal"),
});
export type AuditPage = z.infer<typeof AuditPage>;

export const AuditVerification = z.object({
  ok: z.boolean(),
  entries: z.number().int().describe('how many entries the chain holds, up to the first broken one'),
  sealed: z.number().int().describe('how many entries the signed chain head covers'),
  firstBroken: z.object({ seq: z.number().int(), reason: z.string() }).optional(),
  checkpoint: z.string().nullable().describe("the log's current signed checkpoint note (null before the first seal)"),
});
export type AuditVerification = z.infer<typeof AuditVerification>;

export const RequestPage = z.object({
  requests: z.array(SigningRequest),
  nextBefore: z.string().nullable().describe('cursor for the next (older) page, or null at the end'),
  total: z.number().int().optional().describe('with awaitingMyApproval: how many wait in all (the page holds at most `limit`)'),
});
export type RequestPage = z.infer<typeof RequestPage>;

export const NotificationPage = z.object({ items: z.array(Notification), unreadCount: z.number().int() });
export type NotificationPage = z.infer<typeof NotificationPage>;

export const NotificationSettings = z.object({
  defaultLevel: z.literal('default'),
  policies: z.record(Id, NotificationLevel).describe('levels other than default, by policy id'),
  email: z.boolean().describe('whether my notifications also come by email'),
  emailConfigured: z.boolean().describe('whether this installation sends email at all'),
});
export type NotificationSettings = z.infer<typeof NotificationSettings>;

export const PresenceEntry = z.object({ userId: Id, name: z.string(), page: z.string(), since: Timestamp });
export type PresenceEntry = z.infer<typeof PresenceEntry>;

export const Deleted = z.object({ deleted: Id });
export const MemberRemoved = z.object({ removed: Id, revokedApiKeys: z.number().int().describe('API keys revoked with the member') });
export const NewApiKey = z.object({ apiKey: ApiKey, token: z.string().describe('the secret, shown this once') });
export const ProjectDetails = z.object({ project: Project, artifactConfigs: z.array(ArtifactConfiguration), policies: z.array(SigningPolicy) });
/** The previous signed request of the same policy, as request.get summarizes it beside a request (what changed since). */
export const PreviousSigned = z.object({
  id: Id,
  artifact: SigningRequest.shape.artifact,
  origin: Origin.nullable(),
  submitterName: z.string(),
  createdAt: Timestamp,
  finishedAt: Timestamp.nullable(),
  commitRange: z.object({ from: z.string(), to: z.string() }).nullable().describe("from the previous build's commit to this one's, where both are known"),
  compareUrl: z.string().nullable(),
});
export type PreviousSigned = z.infer<typeof PreviousSigned>;
export const RequestDetails = z.object({
  request: SigningRequest,
  activity: z.array(AuditEntry).describe("the request's slice of the audit log, oldest first"),
  previousSigned: PreviousSigned.nullable(),
});
export const NewInvitation = z.object({
  invitation: Invitation,
  inviteLink: z.string().describe('carries the secret token: shown to the inviter once'),
  mailed: z.boolean(),
});
export const NewCiUser = NewApiKey.extend({ ciUser: Member });
export const NewWebhook = z.object({ webhook: Webhook, secret: z.string().describe('the HMAC secret deliveries are signed with, shown this once') });
