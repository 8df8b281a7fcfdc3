// What this node's live sockets may still see. A change of access arrives in the commit feed, in
// order with the events (committedEvents.ts), and the sockets in its scope are re-checked before the
// feed delivers anything after it; keys and sessions that run out are cut off before the next
// delivery; a periodic re-check is the backstop. (The committing node then waits, for a bounded time,
// for the other nodes to confirm: accessConfirmation.ts.)
import type { Redis } from 'ioredis';
import { loadActor, type Actor } from '../auth/actor.js';
import { CommandFailure } from '../errors.js';
import type { Logger } from '../logger.js';
import type { NodeStatus } from '../nodeStatus.js';
import type { RedisKeys } from '../store/keys.js';
import type { AccessChange, AccessScope } from '../store/commit.js';
import type { CatchUp, CatchUps } from './catchUp.js';
import type { AccessApplier } from './committedEvents.js';
import type { SignetIo } from './io.js';
import { roomsForActor } from './rooms.js';
import type { SignetSocket } from './signetSocket.js';

const ACCESS_SWEEP_MS = 30_000;
/** A socket whose own command took its access away is cut off after its acknowledgement, or after this. */
const CALLER_GRACE_MS = 10_000;

/** What the commit feed asks of access (committedEvents.ts AccessApplier: apply, expireDue), and what handshakes ask. */
export interface SocketAccess extends AccessApplier {
  /**
   * How many changes of access this node has begun applying. A handshake that read its actor while
   * this moved may have been missed by the re-check, and must read it again.
   */
  readonly epoch: number;
  /**
   * Sets the rooms of a socket being caught up from the actor its handshake read, or reads the actor
   * again if a change of access began meanwhile (the re-check may have missed the socket). Resolves
   * false if the socket lost its access.
   */
  admit(socket: SignetSocket, catchUp: CatchUp, actor: Actor, epochAtHandshake: number): Promise<boolean>;
}

function matches(socket: SignetSocket, scope: AccessScope): boolean {
  const data = socket.data;
  if (!data?.principal) return false;
  const principal = data.principal;
  if (scope.orgId && data.orgId !== scope.orgId) return false;
  if (scope.userId && data.userId !== scope.userId) return false;
  if (scope.keyIds && (principal.kind !== 'apiKey' || !scope.keyIds.includes(principal.keyId))) return false;
  if (scope.sessionHash && (principal.kind === 'apiKey' || principal.sessionHash !== scope.sessionHash)) return false;
  if (scope.support && principal.kind !== 'support') return false;
  return true;
}

/** An access scope as it may be logged: without the session hash. */
function loggable(scope: AccessScope) {
  const { sessionHash, ...rest } = scope;
  return sessionHash ? { ...rest, session: 'one session' } : rest;
}

export interface AccessParts {
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  status: NodeStatus;
  io: SignetIo;
  catchUps: CatchUps;
}

export function createSocketAccess({ redis, keys, logger, status, io, catchUps }: AccessParts): SocketAccess {
  let epoch = 0;
  const sockets = () => io.of('/').sockets.values() as IterableIterator<SignetSocket>;

  /** Cuts a socket off: with the reason when it lost access, without when it only must resume. */
  function cutOff(socket: SignetSocket, reason?: string) {
    if (reason) socket.emit('revoked', { reason });
    socket.disconnect(true);
  }

  function revoke(socket: SignetSocket, reason: string, callerSocketId?: string) {
    if (socket.id !== callerSocketId) return cutOff(socket, reason);
    // It still needs its acknowledgement (sent right before it is cut off); it receives nothing meanwhile.
    for (const room of socket.rooms) if (room !== socket.id) socket.leave(room);
    catchUps.of(socket.id)?.setRooms(new Set());
    socket.data.revokedAfterAck = reason;
    setTimeout(() => socket.connected && cutOff(socket, reason), CALLER_GRACE_MS).unref();
  }

  // Keys and sessions that run out: each socket's own time is in its data (nothing more is kept per
  // socket), and the node keeps one deadline, the earliest, checked before every delivery too.
  let nextExpiry = Infinity;
  let expiryTimer: NodeJS.Timeout | undefined;
  function scheduleExpiry() {
    clearTimeout(expiryTimer);
    if (nextExpiry === Infinity) return;
    expiryTimer = setTimeout(expiryTimerFired, Math.min(Math.max(0, nextExpiry - Date.now()), 2 ** 31 - 1));
    expiryTimer.unref();
  }
  function trackExpiry(socket: SignetSocket, actor: Actor) {
    if (!actor.expiresAt) {
      socket.data.expiresAt = undefined;
      return;
    }
    const at = Date.parse(actor.expiresAt);
    socket.data.expiresAt = at;
    if (at < nextExpiry) {
      nextExpiry = at;
      scheduleExpiry();
    }
  }
  // A timer is measured on the event loop's clock, which can lag the wall clock on a busy machine:
  // one that fires a little early is set again, or no socket would be cut off.
  function expiryTimerFired() {
    if (Date.now() < nextExpiry) scheduleExpiry();
    else expireDue();
  }
  function expireDue() {
    const now = Date.now();
    if (now < nextExpiry) return;
    nextExpiry = Infinity;
    // Sockets still being caught up count too: they are connected, only not in their rooms yet.
    for (const socket of sockets()) {
      const at = socket.data?.expiresAt;
      if (at === undefined || !socket.connected) continue;
      if (at <= now) {
        socket.data.expiresAt = undefined;
        cutOff(socket, socket.data.principal.kind === 'apiKey' ? 'This API key has expired' : 'Your session has ended; sign in again');
      } else if (at < nextExpiry) nextExpiry = at;
    }
    scheduleExpiry();
  }

  /** Gives a socket the rooms of its actor as just read (while catching up: the rooms it will join). */
  function settle(socket: SignetSocket, actor: Actor) {
    const rooms = roomsForActor(actor);
    trackExpiry(socket, actor);
    const catchUp = catchUps.of(socket.id);
    if (catchUp) return catchUp.setRooms(rooms);
    for (const room of socket.rooms) if (room !== socket.id && !rooms.has(room)) socket.leave(room);
    socket.join([...rooms]);
  }

  // One re-check at a time per socket, applied in the order they read: a slow periodic re-check
  // cannot put back rooms that a later change of access took away.
  // (Only while one runs: a socket with no re-check under way keeps nothing here.)
  const checks = new WeakMap<SignetSocket, Promise<unknown>>();
  function recheck(socket: SignetSocket, callerSocketId?: string): Promise<void> {
    const check = (checks.get(socket) ?? Promise.resolve()).then(async () => {
      if (!socket.connected) return;
      try {
        settle(socket, await loadActor(redis, keys, socket.data.principal));
      } catch (error) {
        if (!(error instanceof CommandFailure) || error.code !== 'UNAUTHENTICATED') throw error;
        revoke(socket, error.message, callerSocketId);
      }
    });
    const last = check.catch(() => {}).then(() => {
      if (checks.get(socket) === last) checks.delete(socket);
    });
    checks.set(socket, last);
    return check;
  }

  async function apply(change: AccessChange) {
    epoch += 1;
    const inScope = [...sockets()].filter((socket) => change.scopes.some((scope) => matches(socket, scope)));
    await Promise.all(
      inScope.map((socket) =>
        recheck(socket, change.callerSocketId).catch((error: unknown) => {
          // Unsure what it may see now: it resumes, and is authorized afresh on the way in.
          logger.warn({ err: error, scopes: change.scopes.map(loggable) }, 'a socket could not be re-checked after a change of access; disconnecting it');
          cutOff(socket);
        }),
      ),
    );
  }

  // The backstop: every socket's actor is re-checked now and then.
  const sweep = setInterval(() => {
    if (status.draining) return;
    for (const socket of sockets()) recheck(socket).catch((error: unknown) => logger.debug({ err: error }, 'access re-check deferred'));
  }, ACCESS_SWEEP_MS);
  sweep.unref();
  io.engine.on('close', () => {
    clearInterval(sweep);
    clearTimeout(expiryTimer);
  });

  return {
    apply,
    expireDue,
    get epoch() {
      return epoch;
    },
    async admit(socket, catchUp, actor, epochAtHandshake) {
      if (epoch === epochAtHandshake) {
        trackExpiry(socket, actor);
        catchUp.setRooms(roomsForActor(actor));
      } else {
        await recheck(socket);
      }
      return socket.connected && catchUp.rooms !== null;
    },
  };
}
