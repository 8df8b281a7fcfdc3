// A connected console or client as this node holds it: what its handshake established.
import type { Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/lib/shared/events.js';
import type { Principal } from '../auth/actor.js';

export interface SocketData {
  principal: Principal;
  orgId: string;
  userId: string;
  /** Set when a command of this very socket took its access away: applied after the ack. */
  revokedAfterAck?: string;
  /** Commands received and not yet acknowledged. */
  unanswered: number;
  /** RATE_LIMITED answers since the last other answer. */
  refusedInARow: number;
  /** When its key or session stops being valid (ms since the epoch; absent: never). */
  expiresAt?: number;
}

export type SignetSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
