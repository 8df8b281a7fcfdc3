// Server-to-client events and the socket handshake, typed once for both sides.
import { z } from 'zod';
import {
  ApiKey,
  ApprovalGrant,
  ArtifactConfiguration,
  BuildSystem,
  Certificate,
  ChatChannel,
  Id,
  Invitation,
  Member,
  NotificationLevel,
  Organization,
  Project,
  SigningPolicy,
  SigningRequest,
  Webhook,
  type AuditEntry,
  type Notification,
} from './entities.js';
import type { CommandAck, CommandOptions } from './commands.js';
import type { PresenceEntry } from './results.js';

export type { PresenceEntry };

/**
 * Every kind of entity a `change` event can be about, with what its `data` is: a closed set, so a
 * misspelt entity name does not compile on either side.
 */
export const ENTITIES = {
  organization: Organization,
  member: Member,
  invitation: Invitation,
  apiKey: ApiKey,
  project: Project,
  artifactConfig: ArtifactConfiguration,
  policy: SigningPolicy,
  certificate: Certificate,
  buildSystem: BuildSystem,
  webhook: Webhook,
  chatChannel: ChatChannel,
  signingRequest: SigningRequest,
  /** A pre-approved window of a policy (grant.propose/cosign/revoke, and each signature it gives). */
  grant: ApprovalGrant,
  /** My inbox changed on another tab or device (notification.markRead): which went read, how many are left. */
  notificationInbox: z.object({ readIds: z.array(Id), unreadCount: z.number().int() }),
  /** My notification settings changed (notification.settings). */
  notificationSettings: z.object({ policies: z.record(Id, NotificationLevel), email: z.boolean() }),
} as const;

export type EntityName = keyof typeof ENTITIES;
export type EntityData<E extends EntityName = EntityName> = z.infer<(typeof ENTITIES)[E]>;

/**
 * A change of one entity, as the server plans it: created or updated with the entity as it is now
 * (and its version, for entities that have one), or deleted without data. One member per entity,
 * so `if (event.entity === 'signingRequest')` narrows `data` to a SigningRequest.
 */
export type EntityChange<E extends EntityName = EntityName> = {
  [K in E]:
    | { entity: K; id: string; op: 'created' | 'updated'; data: EntityData<K>; version?: number }
    | { entity: K; id: string; op: 'deleted'; data?: undefined; version?: undefined };
}[E];

/** A change as delivered: every persisted event carries the organization's event sequence number. */
export type ChangeEvent<E extends EntityName = EntityName> = EntityChange<E> & { seq: number };

export interface AuditEvent {
  seq: number;
  entry: AuditEntry;
}

export interface NotificationEvent {
  seq: number;
  notification: Notification;
  unreadCount: number;
}

export interface PresenceEvent {
  /** The newest event sequence number at the time: presence itself is not replayed. */
  seq: number;
  online: PresenceEntry[];
}

/** Sent once after connecting: where the client stands, and whether its resume worked. */
export interface ReadyEvent {
  seq: number;
  /** false when the client's lastSeq is older than what the server keeps: reload state. */
  resumed: boolean;
  replayed: number;
}

export interface ServerToClientEvents {
  change: (event: ChangeEvent) => void;
  audit: (event: AuditEvent) => void;
  notification: (event: NotificationEvent) => void;
  presence: (event: PresenceEvent) => void;
  ready: (event: ReadyEvent) => void;
  /** The server ended this session (signed out, removed, key revoked). */
  revoked: (event: { reason: string }) => void;
}

export interface ClientToServerEvents {
  /**
   * `emit("command", name, input, ack)`, or with the command's envelope (its request id):
   * `emit("command", name, input, { requestId }, ack)`. See CommandOptions.
   */
  command: (name: string, input: unknown, ...rest: [ack: (response: CommandAck) => void] | [options: CommandOptions, ack: (response: CommandAck) => void]) => void;
}

/** `auth` of the Socket.IO handshake. */
export interface HandshakeAuth {
  /** An API key (`sgn_…`); browsers use the session cookie instead. */
  token?: string;
  /** Organization slug, for a user who belongs to several. */
  org?: string;
  /** The last event sequence number this client saw: the server replays what came after. */
  lastSeq?: number;
}

export type PersistedEventKind = 'change' | 'audit' | 'notification';
