// The shapes that leave the server: command results, `change` event payloads, audit entries.
// Secrets (password hashes, key hashes, session ids, private keys) have no field here, so a
// presenter cannot leak one by accident.
import { z } from 'zod';
import { PERMISSIONS, STORED_ROLES } from './permissions.js';

export const Id = z.string().min(1).max(64);
export const Timestamp = z.string().describe('ISO 8601, UTC');

export const Organization = z.object({
  id: Id,
  slug: z.string(),
  name: z.string(),
  openSource: z.boolean(),
  supportAuthorized: z.boolean(),
  ownerId: Id,
  createdAt: Timestamp,
  version: z.number().int(),
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
  id: Id,
  orgId: Id,
  email: z.string(),
  role: z.enum(STORED_ROLES),
  invitedBy: Id,
  createdAt: Timestamp,
  expiresAt: Timestamp,
});
export type Invitation = z.infer<typeof Invitation>;

export const ApiKey = z.object({
  id: Id,
  orgId: Id,
  ownerId: Id,
  name: z.string(),
  prefix: z.string().describe('the first characters of the secret, to recognize it'),
  permissions: z.array(z.enum(PERMISSIONS)),
  createdAt: Timestamp,
  createdBy: Id,
  expiresAt: Timestamp.nullable(),
  lastUsedAt: Timestamp.nullable(),
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
