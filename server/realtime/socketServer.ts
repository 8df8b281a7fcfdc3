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
import { CommandFailure } from '../commands/errors.js';
import { toCommandError, type Dispatcher } from '../commands/dispatch.js';
import type { AuditSource } from '../audit/entries.js';
import type { Metrics } from '../metrics.js';
import type { Signet, SignetIo } from '../signet.js';
import { catchUpSocket } from './replay.js';
import { createSocketAccess, type SocketAccess } from './access.js';
import { removePresence, schedulePresenceBroadcast, setPresence } from './presence.js';

export interface SocketData {
  principal: Principal;
  orgId: string;
  userId: string;
  /** Set when a command of this very socket took its access away: applied after the ack. */
  revokedAfterAck?: string;
}

export type SignetSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

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
  const io: SignetIo = new Server(httpServer, {
    path: '/socket.io',
    // Bounded deliberately: a larger message is refused and the socket closed (SPEC §10).
    maxHttpBufferSize: config.SIGNET_MAX_MESSAGE_BYTES,
    serveClient: false,
    // Same origin only: a browser page from elsewhere cannot ride the session cookie.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      if (origin && !config.allowedOrigins.includes(origin)) return callback(`origin ${origin} is not allowed`, false);
      callback(null, true);
    },
    adapter: createAdapter(adapterClients.pub, adapterClients.sub, { key: signet.keys.adapterChannel, requestsTimeout: 2000 }),
  });
  signet.io = io;
  const access = createSocketAccess(signet, io, metrics);

  io.use(async (rawSocket, next) => {
    const socket = rawSocket as SignetSocket;
    try {
      // Without the commit channel this node could not deliver what others commit.
      if (signet.feed && !signet.feed.live) throw new CommandFailure('UNAVAILABLE', 'This server is reconnecting to its data store; try again shortly');
      const auth = (socket.handshake.auth ?? {}) as HandshakeAuth;
      let principal: Principal;
      if (typeof auth.token === 'string') {
        principal = await authenticateApiKey(signet.redis, signet.keys, auth.token);
      } else {
        const sessionId = parseCookie(socket.handshake.headers.cookie ?? '')[SESSION_COOKIE];
        if (!sessionId) throw new CommandFailure('UNAUTHENTICATED', 'Sign in first, or pass an API key as auth.token');
        principal = await authenticateSession(signet.redis, signet.keys, sessionId, typeof auth.org === 'string' ? auth.org : undefined);
      }
      const accessEpoch = signet.feed?.accessEpoch ?? 0;
      const actor = await loadActor(signet.redis, signet.keys, principal);
      socket.data = {
        principal,
        orgId: actor.orgId,
        userId: actor.userId,
      };
      (socket as SignetSocket & { admission?: Admission }).admission = { actor, accessEpoch };
      next();
    } catch (error) {
      const failure = toCommandError(signet, error, 'handshake');
      const refusal = new Error(failure.message) as Error & { data: unknown };
      refusal.data = { code: failure.code };
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

    socket.on('command', (name, input, ack) => {
      if (typeof ack !== 'function') return;
      void dispatcher.run(socket.data.principal, name, input, sourceOf(socket), socket.id).then((response) => {
        ack(response);
        if (socket.data.revokedAfterAck) {
          socket.emit('revoked', { reason: socket.data.revokedAfterAck });
          socket.disconnect(true);
        }
      });
    });
    socket.on('disconnect', () => {
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

  return { io, access };
}
