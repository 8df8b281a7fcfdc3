// Server-to-client events and the socket handshake, typed once for both sides.
import type { AuditEntry, Notification } from './entities.js';
import type { CommandAck, CommandOptions } from './commands.js';

/** Every persisted event carries the organization's event sequence number. */
export interface ChangeEvent {
  seq: number;
  entity: string;
  id: string;
  op: 'created' | 'updated' | 'deleted';
  /** The entity as it is now (absent for deletions). */
  data?: unknown;
  version?: number;
}

export interface AuditEvent {
  seq: number;
  entry: AuditEntry;
}

export interface NotificationEvent {
  seq: number;
  notification: Notification;
  unreadCount: number;
}

export interface PresenceEntry {
  userId: string;
  name: string;
  page: string;
  since: string;
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
