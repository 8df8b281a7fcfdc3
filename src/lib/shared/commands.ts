// Each command's name and input schema: the protocol both sides speak (SPEC §7).
// The server's declaration of a command (server/commands/*) pairs one of these with its
// permission and handler; GET /api/v1/protocol.json publishes them as JSON Schema.
import { z } from 'zod';
import { ASSIGNABLE_ROLES, PERMISSIONS } from './permissions.js';
import { NotificationLevel } from './entities.js';

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
export const EntityId = z.string().min(1).max(64);
export const Version = z.number().int().min(1).describe('the version you read: a stale one gets CONFLICT');
export const Cursor = z.string().max(64).optional();
export const PageSize = z.number().int().min(1).max(LIMITS.pageSize).optional();
export const IsoTime = z.iso.datetime({ offset: true });

const empty = z.strictObject({});

export const commandInputs = {
  'me.get': empty,

  'org.get': empty,
  'org.update': z.strictObject({ name: Name, version: Version }),
  'org.delete': z.strictObject({ confirmSlug: Slug.describe('the organization slug, typed to confirm') }),

  'member.list': empty,
  'member.invite': z.strictObject({ email: Email, role: z.enum(ASSIGNABLE_ROLES) }),
  'member.changeRole': z.strictObject({ userId: EntityId, role: z.enum(ASSIGNABLE_ROLES), version: Version }),
  'member.remove': z.strictObject({ userId: EntityId }),
  'invite.list': empty,
  'invite.revoke': z.strictObject({ inviteId: EntityId }),

  'ciUser.create': z.strictObject({ name: Name, role: z.enum(['member', 'viewer']).default('member') }),
  'ciUser.remove': z.strictObject({ userId: EntityId }),

  'support.authorize': empty,
  'support.disable': empty,

  'apiKey.list': empty,
  'apiKey.create': z.strictObject({
    name: Name,
    permissions: z.array(z.enum(PERMISSIONS)).min(1).max(PERMISSIONS.length),
    expiresAt: IsoTime.nullable().default(null),
    ciUserId: EntityId.optional().describe('create the key for this CI user (needs team:manage)'),
  }),
  'apiKey.revoke': z.strictObject({ keyId: EntityId }),

  'audit.query': z.strictObject({
    actorId: z.string().max(64).optional(),
    action: z.string().max(64).optional(),
    targetType: z.string().max(64).optional(),
    targetId: z.string().max(64).optional(),
    from: IsoTime.optional(),
    to: IsoTime.optional(),
    before: z.number().int().min(1).optional().describe('cursor: entries with a lower seq (newest first)'),
    limit: PageSize,
  }),
  'audit.verify': empty,

  'notification.list': z.strictObject({ unreadOnly: z.boolean().default(false), limit: PageSize }),
  'notification.markRead': z.union([
    z.strictObject({ ids: z.array(EntityId).min(1).max(LIMITS.listInput) }),
    z.strictObject({ all: z.literal(true) }),
  ]),
  'notification.settings': z.strictObject({
    set: z
      .array(z.strictObject({ policyId: EntityId, level: NotificationLevel }))
      .max(LIMITS.listInput)
      .optional(),
  }),

  'presence.update': z.strictObject({ page: z.string().max(200) }),
} as const satisfies Record<string, z.ZodType>;

export type CommandName = keyof typeof commandInputs;
export type CommandInput<N extends CommandName> = z.input<(typeof commandInputs)[N]>;
export type ParsedCommandInput<N extends CommandName> = z.output<(typeof commandInputs)[N]>;

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

export interface InputIssue {
  path: string;
  message: string;
}

export interface CommandError {
  code: ErrorCode;
  message: string;
  issues?: InputIssue[];
  /** With CONFLICT on a stale update: the entity as it is now. */
  current?: unknown;
}

export type CommandAck<R = unknown> = { ok: true; result: R } | { ok: false; error: CommandError };
