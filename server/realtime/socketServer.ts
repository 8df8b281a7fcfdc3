// The Socket.IO side: handshake (Origin allowlist, session cookie or API key), rooms, the command
// event, resuming from a sequence number, presence; revocation is access.ts, in the commit feed's order.
import type { Socket } from 'socket.io';
import { parse as parseCookie } from 'cookie';
import type { HandshakeAuth } from '../../src/lib/shared/events.js';
import { authenticateApiKey, authenticateSession, type Actor } from '../auth/actor.js';
import { SESSION_COOKIE } from '../auth/sessions.js';
import { tokenHash } from '../auth/secrets.js';
import { CommandFailure, invalid } from '../errors.js';
import { IN_FLIGHT_PER_ACTOR, QUEUED_PER_ACTOR, toCommandError, type Dispatcher } from '../commands/dispatch.js';
import { withinDeadline } from '../commands/attempt.js';
import type { AuditSource } from '../audit/entries.js';
import type { NodeStatus } from '../nodeStatus.js';
import type { Signet } from '../signet.js';
import type { SignetIo, RefusedCredentials } from './io.js';
import type { CatchUps } from './catchUp.js';
import type { CommittedFeed } from './committedEvents.js';
import type { SocketAccess } from './access.js';
import type { Presence } from './presence.js';
import type { SignetSocket } from './signetSocket.js';
import { catchUpSocket } from './replay.js';
import { claimSocketSlot, releaseSocketSlot } from './socketSlots.js';

/**
 * A socket that sends faster than its answers come back is closed rather than served: past this
 * many unanswered commands (what its actor may have running and queued), or this many refusals in
 * a row (a client that honours retryAfterMs never sees that many). Closing stops this node reading
 * the flood (the rest of what already arrived is dropped unread), and reconnecting costs the
 * actor's budget, so one actor cannot keep the event loop busy for everybody else.
 */
const MAX_UNANSWERED = IN_FLIGHT_PER_ACTOR + QUEUED_PER_ACTOR;
const MAX_REFUSED_IN_A_ROW = 50;
/** What a handshake read, for the connection to start from. */
interface Admission {
  actor: Actor;
  /** How many changes of access this node had begun applying when the actor was read (access.epoch). */
  accessEpoch: number;
}

/** Where a socket's commands come from, for the audit log (built when needed: kept per socket it costs memory). */
function sourceOf(socket: Socket): AuditSource {
  return {
    via: 'socket',
    ip: socket.handshake.address,
    userAgent: String(socket.handshake.headers['user-agent'] ?? '').slice(0, 300),
  };
}

export interface SocketServerParts {
  signet: Signet;
  io: SignetIo;
  refused: RefusedCredentials;
  feed: CommittedFeed;
  access: SocketAccess;
  catchUps: CatchUps;
  presence: Presence;
  dispatcher: Dispatcher;
  status: NodeStatus;
}

/** Authenticates connections (io.use) and serves them: commands, catching up, presence. */
export function attachSocketServer({ signet, io, refused, feed, access, catchUps, presence, dispatcher, status }: SocketServerParts): void {
  const { config } = signet;
  /** What each handshake read, until its socket connects (kept off the socket, which lives on). */
  const admissions = new Map<string, Admission>();

  io.use(async (rawSocket, next) => {
    const socket = rawSocket as SignetSocket;
    try {
      if (status.draining) throw new CommandFailure('UNAVAILABLE', 'This node is shutting down; connect again: another node will answer');
      // Without the commit channel this node could not deliver what others commit.
      if (!feed.live) throw new CommandFailure('UNAVAILABLE', 'This server is reconnecting to its data store; try again shortly');
      const auth = (socket.handshake.auth ?? {}) as HandshakeAuth;
      const lastSeq: unknown = auth.lastSeq;
      if (lastSeq !== undefined && lastSeq !== null && !(Number.isSafeInteger(lastSeq) && (lastSeq as number) >= 0)) {
        throw invalid('lastSeq', 'must be a whole number ≥ 0: the last sequence number this client saw');
      }
      const sessionId = parseCookie(socket.handshake.headers.cookie ?? '')[SESSION_COOKIE];
      const secret = typeof auth.token === 'string' ? auth.token : sessionId;
      if (!secret) throw new CommandFailure('UNAUTHENTICATED', 'Sign in first, or pass an API key as auth.token');
      const credential = tokenHash(secret);
      const refusal = refused.stillRefused(credential);
      if (refusal) throw refusal;
      // Bounded like a command: a paused Redis must not hold handshakes for the Redis backstop.
      const deadlineAt = Date.now() + config.SIGNET_COMMAND_DEADLINE_MS;
      const { principal, actor, accessEpoch } = await withinDeadline(
        (async () => {
          const principal =
            typeof auth.token === 'string'
              ? await authenticateApiKey(signet.store, auth.token)
              : await authenticateSession(signet.store, secret, typeof auth.org === 'string' ? auth.org : undefined);
          // Counted before the actor is read (in the same call): a change of access that begins
          // after this may have missed the socket, and admit() reads the actor again.
          const accessEpoch = access.epoch;
          // A connection counts against the actor's budget: reconnecting cannot get round a refusal.
          const actor = await dispatcher.countAndLoad(principal, 'socket.connect', sourceOf(socket)).catch((error: unknown) => {
            if (error instanceof CommandFailure && error.extra.retryAfterMs) refused.remember(credential, error.extra.retryAfterMs);
            throw error;
          });
          return { principal, accessEpoch, actor };
        })(),
        config.SIGNET_COMMAND_DEADLINE_MS,
      );
      // The slot within what is left of the same deadline; a claim that lands after it is given back.
      const slot = claimSocketSlot(signet, actor.userId, socket.id);
      const claimed = await withinDeadline(slot, Math.max(1, deadlineAt - Date.now())).catch((error: unknown) => {
        void slot.then((taken) => (taken ? releaseSocketSlot(signet, actor.userId, socket.id) : undefined)).catch(() => {});
        throw error;
      });
      if (!claimed) {
        const cap = config.SIGNET_MAX_SOCKETS_PER_USER;
        throw new CommandFailure('RATE_LIMITED', `This account has ${cap} connections open, the most allowed; close one (a browser tab or a client) first`);
      }
      // The principal's own strings (the same values): one copy of each per socket.
      const userId = principal.kind === 'apiKey' ? principal.ownerId : principal.userId;
      socket.data = { principal, orgId: principal.orgId, userId: actor.userId === userId ? userId : actor.userId, unanswered: 0, refusedInARow: 0 };
      admissions.set(socket.id, { actor, accessEpoch });
      next();
      // A client that left during the handshake never connects (and never disconnects): give its
      // slot back. Socket.IO connects it, or drops it, before this runs.
      setImmediate(() => {
        admissions.delete(socket.id);
        if (!socket.connected) void releaseSocketSlot(signet, actor.userId, socket.id).catch(() => {});
      });
    } catch (error) {
      const failure = toCommandError(signet, error, 'handshake');
      const refusal = new Error(failure.message) as Error & { data: unknown };
      refusal.data = { code: failure.code, ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }) };
      next(refusal);
    }
  });

  io.on('connection', (rawSocket) => void onConnection(rawSocket as SignetSocket));

  // One listener of each kind for every socket, reading what it needs from the socket's data
  // (a closure per socket, holding what its set-up held, is memory per connection).
  function onCommand(this: SignetSocket, name: unknown, input: unknown, ...rest: unknown[]): void {
    // The ack comes last: `(name, input, ack)` or `(name, input, options, ack)`.
    const ack = rest.at(-1);
    if (typeof ack !== 'function') return;
    const socket = this;
    const { data } = socket;
    if (data.unanswered >= MAX_UNANSWERED) return closeFlooding(socket, `${data.unanswered} commands unanswered`);
    data.unanswered += 1;
    const envelope = rest.length > 1 ? { options: rest[0], requestIdField: 'options.requestId' } : undefined;
    void dispatcher.run(data.principal, name, input, sourceOf(socket), socket.id, envelope, () => socket.connected).then((response) => {
      data.unanswered -= 1;
      ack(response);
      if (data.revokedAfterAck) {
        socket.emit('revoked', { reason: data.revokedAfterAck });
        socket.disconnect(true);
        return;
      }
      data.refusedInARow = !response.ok && response.error.code === 'RATE_LIMITED' ? data.refusedInARow + 1 : 0;
      if (data.refusedInARow >= MAX_REFUSED_IN_A_ROW) closeFlooding(socket, `${data.refusedInARow} commands refused in a row`);
    });
  }

  function onDisconnect(this: SignetSocket): void {
    const { id, data } = this;
    void releaseSocketSlot(signet, data.userId, id).catch(() => {});
    const catchUp = catchUps.of(id);
    if (catchUp) catchUps.end(catchUp);
    if (status.draining) return;
    void presence
      .remove(data.orgId, id)
      .then(() => presence.scheduleBroadcast(data.orgId))
      .catch(() => {});
  }

  async function onConnection(socket: SignetSocket) {
    const admission = admissions.get(socket.id)!;
    admissions.delete(socket.id);
    const { actor, accessEpoch } = admission;
    const { orgId } = socket.data;
    // From here on, what the feed delivers to the organization is kept for this socket until it has
    // been caught up and joins its rooms.
    const catchUp = catchUps.start(socket, orgId);
    socket.on('command', onCommand as never);
    socket.on('disconnect', onDisconnect);

    try {
      if (!(await access.admit(socket, catchUp, actor, accessEpoch))) return;
      const lastSeq = (socket.handshake.auth as HandshakeAuth).lastSeq;
      const ready = await catchUpSocket(signet, feed, catchUps, catchUp, typeof lastSeq === 'number' ? lastSeq : null);
      if (!ready) return;
      socket.emit('ready', ready);
      await presence.set(orgId, socket.id, { userId: actor.userId, name: actor.name, page: '', since: new Date().toISOString() });
      presence.scheduleBroadcast(orgId);
    } catch (error) {
      signet.logger.warn({ err: error }, 'connection set-up failed');
      catchUps.end(catchUp);
      socket.disconnect(true);
    }
  }

  function closeFlooding(socket: SignetSocket, why: string) {
    if (!socket.connected) return;
    signet.logger.warn({ userId: socket.data.userId, orgId: socket.data.orgId, why }, 'closed a socket that sent commands faster than they were answered');
    socket.disconnect(true);
  }
}
