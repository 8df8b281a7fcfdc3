// What this node's live sockets may still see. A change of access arrives in the commit feed, in
// order with the events (committedEvents.ts), and the sockets in its scope are re-checked before the
// feed delivers anything after it; keys and sessions that run out are cut off before the next
// delivery; a periodic re-check is the backstop. The committing node then waits, for a bounded time,
// for the other nodes to confirm — the acknowledgement waits for that, ordering never does.
import { loadActor, type Actor } from '../auth/actor.js';
import { CommandFailure } from '../commands/errors.js';
import type { Metrics } from '../metrics.js';
import type { AccessChange, AccessScope, Committed } from '../store/commit.js';
import type { Signet, SignetIo } from '../signet.js';
import { commitPosition, type AccessApplier, type CatchUp } from './committedEvents.js';
import { roomsForActor } from './rooms.js';
import type { SignetSocket } from './socketServer.js';

/** Adapter request: "have you applied the change of access committed at this position?" */
const CONFIRM_EVENT = 'signet:access-applied';
const ACCESS_SWEEP_MS = 30_000;
/** A socket whose own command took its access away is cut off after its acknowledgement, or after this. */
const CALLER_GRACE_MS = 10_000;

export interface SocketAccess extends AccessApplier {
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

export function createSocketAccess(signet: Signet, io: SignetIo, metrics: Metrics): SocketAccess {
  const feed = () => signet.feed!;
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
    feed().catchUpOf(socket.id)?.setRooms(new Set());
    socket.data.revokedAfterAck = reason;
    setTimeout(() => socket.connected && cutOff(socket, reason), CALLER_GRACE_MS).unref();
  }

  // Keys and sessions that run out: one deadline for the node, checked before every delivery too.
  const expiries = new Map<SignetSocket, number>();
  let nextExpiry = Infinity;
  let expiryTimer: NodeJS.Timeout | undefined;
  function scheduleExpiry() {
    clearTimeout(expiryTimer);
    if (nextExpiry === Infinity) return;
    expiryTimer = setTimeout(expireDue, Math.min(Math.max(0, nextExpiry - Date.now()), 2 ** 31 - 1));
    expiryTimer.unref();
  }
  function trackExpiry(socket: SignetSocket, actor: Actor) {
    if (!actor.expiresAt) {
      expiries.delete(socket);
      return;
    }
    const at = Date.parse(actor.expiresAt);
    if (!expiries.has(socket)) socket.once('disconnect', () => expiries.delete(socket));
    expiries.set(socket, at);
    if (at < nextExpiry) {
      nextExpiry = at;
      scheduleExpiry();
    }
  }
  function expireDue() {
    const now = Date.now();
    if (now < nextExpiry) return;
    nextExpiry = Infinity;
    for (const [socket, at] of expiries) {
      if (!socket.connected) expiries.delete(socket);
      else if (at <= now) {
        expiries.delete(socket);
        cutOff(socket, socket.data.principal.kind === 'apiKey' ? 'This API key has expired' : 'Your session has ended; sign in again');
      } else if (at < nextExpiry) nextExpiry = at;
    }
    scheduleExpiry();
  }

  /** Gives a socket the rooms of its actor as just read (while catching up: the rooms it will join). */
  function settle(socket: SignetSocket, actor: Actor) {
    const rooms = roomsForActor(actor);
    trackExpiry(socket, actor);
    const catchUp = feed().catchUpOf(socket.id);
    if (catchUp) return catchUp.setRooms(rooms);
    for (const room of socket.rooms) if (room !== socket.id && !rooms.has(room)) socket.leave(room);
    socket.join([...rooms]);
  }

  // One re-check at a time per socket, applied in the order they read: a slow periodic re-check
  // cannot put back rooms that a later change of access took away.
  const checks = new WeakMap<SignetSocket, Promise<unknown>>();
  function recheck(socket: SignetSocket, callerSocketId?: string): Promise<void> {
    const check = (checks.get(socket) ?? Promise.resolve()).then(async () => {
      if (!socket.connected) return;
      try {
        settle(socket, await loadActor(signet.redis, signet.keys, socket.data.principal));
      } catch (error) {
        if (!(error instanceof CommandFailure) || error.code !== 'UNAUTHENTICATED') throw error;
        revoke(socket, error.message, callerSocketId);
      }
    });
    checks.set(socket, check.catch(() => {}));
    return check;
  }

  async function apply(change: AccessChange) {
    const inScope = [...sockets()].filter((socket) => change.scopes.some((scope) => matches(socket, scope)));
    await Promise.all(
      inScope.map((socket) =>
        recheck(socket, change.callerSocketId).catch((error: unknown) => {
          // Unsure what it may see now: it resumes, and is authorized afresh on the way in.
          signet.logger.warn({ err: error, scopes: change.scopes.map(loggable) }, 'a socket could not be re-checked after a change of access; disconnecting it');
          cutOff(socket);
        }),
      ),
    );
  }

  // The backstop: every socket's actor is re-checked now and then.
  const sweep = setInterval(() => {
    if (signet.shuttingDown) return;
    for (const socket of sockets()) recheck(socket).catch((error: unknown) => signet.logger.debug({ err: error }, 'access re-check deferred'));
  }, ACCESS_SWEEP_MS);
  sweep.unref();
  io.engine.on('close', () => {
    clearInterval(sweep);
    clearTimeout(expiryTimer);
  });

  // Another node committed a change of access: answer once this node's feed has applied it (at
  // once if it is off the channel: it delivers nothing, and its sockets resume once it is back).
  io.on(CONFIRM_EVENT as never, (position: { orgId?: unknown; seq?: unknown }, ack: (applied: boolean) => void) => {
    if (typeof ack !== 'function') return;
    if (typeof position?.orgId !== 'string' || typeof position.seq !== 'number') return ack(false);
    if (!feed().live) return ack(true);
    feed().reached(position.orgId, position.seq).then(
      () => ack(true),
      () => ack(!feed().live),
    );
  });

  signet.confirmAccess = async (committed: Committed, committedAt: number) => {
    const position = commitPosition(committed);
    if (!position) return;
    try {
      // The Redis adapter's requestsTimeout bounds the wait. A node that does not answer in time
      // (paused, overloaded) applies the change when it gets to it, before anything after it.
      const answers = (await (io as unknown as { serverSideEmitWithAck: (ev: string, arg: unknown) => Promise<boolean[]> })
        .serverSideEmitWithAck(CONFIRM_EVENT, position)) as boolean[];
      if (answers.some((applied) => !applied)) signet.logger.error({ position }, 'a node could not confirm a change of access');
    } catch (error) {
      signet.logger.warn({ err: error, position }, 'not every node confirmed a change of access in time; each applies it in order when it gets to it');
    } finally {
      metrics.revocationSeconds.observe((performance.now() - committedAt) / 1000);
    }
  };

  return {
    apply,
    expireDue,
    async admit(socket, catchUp, actor, epochAtHandshake) {
      if (feed().accessEpoch === epochAtHandshake) {
        trackExpiry(socket, actor);
        catchUp.setRooms(roomsForActor(actor));
      } else {
        await recheck(socket);
      }
      return socket.connected && catchUp.rooms !== null;
    },
  };
}
