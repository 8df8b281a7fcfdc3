// The Socket.IO side: handshake (Origin allowlist, session cookie or API key), rooms, the command
// event, resuming from a sequence number, presence; revocation is access.ts, in the commit feed's order.
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { parse as parseCookie } from 'cookie';
import type { Redis } from 'ioredis';
import type { ClientToServerEvents, HandshakeAuth, ServerToClientEvents } from '../../src/lib/shared/events.js';
import { authenticateApiKey, authenticateSession, loadActor, type Actor, type Principal } from '../auth/actor.js';
import { SESSION_COOKIE } from '../auth/accounts.js';
import { tokenHash } from '../auth/secrets.js';
import { CommandFailure, invalid, rateLimited } from '../commands/errors.js';
import { IN_FLIGHT_PER_ACTOR, QUEUED_PER_ACTOR, toCommandError, type Dispatcher } from '../commands/dispatch.js';
import { withinDeadline } from '../commands/attempt.js';
import type { AuditSource } from '../audit/entries.js';
import type { Metrics } from '../metrics.js';
import type { Signet, SignetIo } from '../signet.js';
import { catchUpSocket } from './replay.js';
import { createSocketAccess, type SocketAccess } from './access.js';
import { removePresence, schedulePresenceBroadcast, setPresence } from './presence.js';
import { claimSocketSlot, releaseSocketSlot } from './socketSlots.js';

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
}

export type SignetSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

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
  /** The feed's count of changes of access when the actor was read. */
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

export function attachSocketServer(
  signet: Signet,
  httpServer: HttpServer,
  dispatcher: Dispatcher,
  adapterClients: { pub: Redis; sub: Redis },
  metrics: Metrics,
): { io: SignetIo; access: SocketAccess } {
  const { config } = signet;

  // Credentials (a session or an API key, by hash) whose handshake was refused for their actor's
  // rate limit, and until when: a client that comes straight back is refused again before the
  // WebSocket upgrade (a session cookie) or before any Redis call (an API key).
  const refusedCredentials = new Map<string, number>();
  function refusedFor(credential: string): number {
    const until = refusedCredentials.get(credential);
    if (until === undefined) return 0;
    if (until > Date.now()) return until - Date.now();
    refusedCredentials.delete(credential);
    return 0;
  }
  function rememberRefusal(credential: string, retryAfterMs: number): void {
    // Only credentials that authenticated get here; expired entries go when the map grows.
    if (refusedCredentials.size >= 10_000) for (const [key, until] of refusedCredentials) if (until <= Date.now()) refusedCredentials.delete(key);
    refusedCredentials.set(credential, Date.now() + retryAfterMs);
  }
  const stillRefused = (credential: string) => {
    const ms = refusedFor(credential);
    return ms > 0 ? rateLimited(`Too many commands; try again in ${Math.ceil(ms / 1000)} s`, ms) : null;
  };

  const io: SignetIo = new Server(httpServer, {
    path: '/socket.io',
    // Bounded deliberately: a larger message is refused and the socket closed (SPEC §10).
    maxHttpBufferSize: config.SIGNET_MAX_MESSAGE_BYTES,
    serveClient: false,
    // Same origin only: a browser page from elsewhere cannot ride the session cookie.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      if (origin && !config.allowedOrigins.includes(origin)) return callback(`origin ${origin} is not allowed`, false);
      const sessionId = parseCookie(req.headers.cookie ?? '')[SESSION_COOKIE];
      const refused = sessionId ? stillRefused(tokenHash(sessionId)) : null;
      if (refused) return callback(refused.message, false);
      callback(null, true);
    },
    // Other nodes' confirmations of a change of access are awaited within the command's deadline
    // (half a second is left for the rest of the command); a node slower than that applies the
    // change in feed order anyway, before anything committed after it.
    adapter: createAdapter(adapterClients.pub, adapterClients.sub, {
      key: signet.keys.adapterChannel,
      requestsTimeout: Math.max(100, Math.min(2000, config.SIGNET_COMMAND_DEADLINE_MS - 500)),
    }),
  });
  signet.io = io;
  const access = createSocketAccess(signet, io, metrics);

  io.use(async (rawSocket, next) => {
    const socket = rawSocket as SignetSocket;
    try {
      if (signet.shuttingDown) throw new CommandFailure('UNAVAILABLE', 'This node is shutting down; connect again: another node will answer');
      // Without the commit channel this node could not deliver what others commit.
      if (signet.feed && !signet.feed.live) throw new CommandFailure('UNAVAILABLE', 'This server is reconnecting to its data store; try again shortly');
      const auth = (socket.handshake.auth ?? {}) as HandshakeAuth;
      const lastSeq: unknown = auth.lastSeq;
      if (lastSeq !== undefined && lastSeq !== null && !(Number.isSafeInteger(lastSeq) && (lastSeq as number) >= 0)) {
        throw invalid('lastSeq', 'must be a whole number ≥ 0: the last sequence number this client saw');
      }
      const sessionId = parseCookie(socket.handshake.headers.cookie ?? '')[SESSION_COOKIE];
      const secret = typeof auth.token === 'string' ? auth.token : sessionId;
      if (!secret) throw new CommandFailure('UNAUTHENTICATED', 'Sign in first, or pass an API key as auth.token');
      const credential = tokenHash(secret);
      const refused = stillRefused(credential);
      if (refused) throw refused;
      // Bounded like a command: a paused Redis must not hold handshakes for the Redis backstop.
      const { principal, actor, accessEpoch } = await withinDeadline(
        (async () => {
          const principal =
            typeof auth.token === 'string'
              ? await authenticateApiKey(signet.redis, signet.keys, auth.token)
              : await authenticateSession(signet.redis, signet.keys, secret, typeof auth.org === 'string' ? auth.org : undefined);
          // A connection counts against the actor's budget: reconnecting cannot get round a refusal.
          await dispatcher.rateLimit(principal, 'socket.connect', sourceOf(socket)).catch((error: unknown) => {
            if (error instanceof CommandFailure && error.extra.retryAfterMs) rememberRefusal(credential, error.extra.retryAfterMs);
            throw error;
          });
          const accessEpoch = signet.feed?.accessEpoch ?? 0;
          return { principal, accessEpoch, actor: await loadActor(signet.redis, signet.keys, principal) };
        })(),
        config.SIGNET_COMMAND_DEADLINE_MS,
      );
      if (!(await claimSocketSlot(signet, actor.userId, socket.id))) {
        const cap = config.SIGNET_MAX_SOCKETS_PER_USER;
        throw new CommandFailure('RATE_LIMITED', `This account has ${cap} connections open, the most allowed; close one (a browser tab or a client) first`);
      }
      socket.data = { principal, orgId: actor.orgId, userId: actor.userId, unanswered: 0, refusedInARow: 0 };
      (socket as SignetSocket & { admission?: Admission }).admission = { actor, accessEpoch };
      next();
      // A client that left during the handshake never connects (and never disconnects): give its
      // slot back. Socket.IO connects it, or drops it, before this runs.
      setImmediate(() => {
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

  async function onConnection(socket: SignetSocket) {
    const { actor, accessEpoch } = (socket as SignetSocket & { admission?: Admission }).admission!;
    delete (socket as SignetSocket & { admission?: Admission }).admission;
    const { orgId } = socket.data;
    // From here on, what the feed delivers to the organization is kept for this socket until it has
    // been caught up and joins its rooms.
    const feed = signet.feed!;
    const catchUp = feed.startCatchUp(socket, orgId);

    socket.on('command', (name, input, ...rest) => {
      // The ack comes last: `(name, input, ack)` or `(name, input, options, ack)`.
      const ack = rest.at(-1);
      if (typeof ack !== 'function') return;
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
    });
    socket.on('disconnect', () => {
      void releaseSocketSlot(signet, socket.data.userId, socket.id).catch(() => {});
      feed.endCatchUp(catchUp);
      if (signet.shuttingDown) return;
      void removePresence(signet, orgId, socket.id)
        .then(() => schedulePresenceBroadcast(signet, orgId))
        .catch(() => {});
    });

    try {
      if (!(await access.admit(socket, catchUp, actor, accessEpoch))) return;
      const lastSeq = (socket.handshake.auth as HandshakeAuth).lastSeq;
      const ready = await catchUpSocket(signet, feed, catchUp, typeof lastSeq === 'number' ? lastSeq : null);
      if (!ready) return;
      socket.emit('ready', ready);
      await setPresence(signet, orgId, socket.id, { userId: actor.userId, name: actor.name, page: '', since: new Date().toISOString() });
      schedulePresenceBroadcast(signet, orgId);
    } catch (error) {
      signet.logger.warn({ err: error }, 'connection set-up failed');
      feed.endCatchUp(catchUp);
      socket.disconnect(true);
    }
  }

  function closeFlooding(socket: SignetSocket, why: string) {
    if (!socket.connected) return;
    signet.logger.warn({ userId: socket.data.userId, orgId: socket.data.orgId, why }, 'closed a socket that sent commands faster than they were answered');
    socket.disconnect(true);
  }

  return { io, access };
}
