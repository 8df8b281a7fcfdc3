// The Socket.IO side: handshake (Origin allowlist, session cookie or API key), rooms, the command
// event, resuming from a sequence number, presence, and revocation on every node.
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
import { withinDeadline } from '../commands/attempt.js';
import type { AuditSource } from '../audit/entries.js';
import type { AccessScope, Signet, SignetIo } from '../signet.js';
import { roomsForActor } from './rooms.js';
import { replayMissedEvents } from './replay.js';
import { removePresence, schedulePresenceBroadcast, setPresence } from './presence.js';

interface SocketData {
  principal: Principal;
  orgId: string;
  userId: string;
  /** Set when a command of this very socket took its access away: applied after the ack. */
  revokedAfterAck?: string;
}

type SignetSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const REFRESH_EVENT = 'signet:refresh';
const ACCESS_SWEEP_MS = 30_000;

/** Where a socket's commands come from, for the audit log (built when needed: kept per socket it costs memory). */
function sourceOf(socket: Socket): AuditSource {
  return {
    via: 'socket',
    ip: socket.handshake.address,
    userAgent: String(socket.handshake.headers['user-agent'] ?? '').slice(0, 300),
  };
}

/** An access scope as it may be logged: without the session hash. */
function loggable(scope: AccessScope) {
  const { sessionHash, ...rest } = scope;
  return sessionHash ? { ...rest, session: 'one session' } : rest;
}

export function attachSocketServer(
  signet: Signet,
  httpServer: HttpServer,
  dispatcher: Dispatcher,
  adapterClients: { pub: Redis; sub: Redis },
): SignetIo {
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

  io.use(async (rawSocket, next) => {
    const socket = rawSocket as SignetSocket;
    try {
      if (signet.shuttingDown) throw new CommandFailure('UNAVAILABLE', 'This node is shutting down; connect again: another node will answer');
      // Without the commit channel this node could not deliver what others commit.
      if (signet.feed && !signet.feed.live) throw new CommandFailure('UNAVAILABLE', 'This server is reconnecting to its data store; try again shortly');
      const auth = (socket.handshake.auth ?? {}) as HandshakeAuth;
      // Bounded like a command: a paused Redis must not hold handshakes for the Redis backstop.
      const { principal, actor } = await withinDeadline(
        (async () => {
          let principal: Principal;
          if (typeof auth.token === 'string') {
            principal = await authenticateApiKey(signet.redis, signet.keys, auth.token);
          } else {
            const sessionId = parseCookie(socket.handshake.headers.cookie ?? '')[SESSION_COOKIE];
            if (!sessionId) throw new CommandFailure('UNAUTHENTICATED', 'Sign in first, or pass an API key as auth.token');
            principal = await authenticateSession(signet.redis, signet.keys, sessionId, typeof auth.org === 'string' ? auth.org : undefined);
          }
          return { principal, actor: await loadActor(signet.redis, signet.keys, principal) };
        })(),
        config.SIGNET_COMMAND_DEADLINE_MS,
      );
      socket.data = {
        principal,
        orgId: actor.orgId,
        userId: actor.userId,
      };
      (socket as SignetSocket & { actor?: Actor }).actor = actor;
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
    const actor = (socket as SignetSocket & { actor?: Actor }).actor!;
    delete (socket as SignetSocket & { actor?: Actor }).actor;
    const { orgId } = socket.data;

    socket.on('command', (name, input, ...rest) => {
      // The ack comes last: `(name, input, ack)` or `(name, input, options, ack)`.
      const ack = rest.at(-1);
      if (typeof ack !== 'function') return;
      const envelope = rest.length > 1 ? { options: rest[0], requestIdField: 'options.requestId' } : undefined;
      void dispatcher.run(socket.data.principal, name, input, sourceOf(socket), socket.id, envelope).then((response) => {
        ack(response);
        if (socket.data.revokedAfterAck) {
          socket.emit('revoked', { reason: socket.data.revokedAfterAck });
          socket.disconnect(true);
        }
      });
    });
    socket.on('disconnect', () => {
      if (signet.shuttingDown) return;
      void removePresence(signet, orgId, socket.id)
        .then(() => schedulePresenceBroadcast(signet, orgId))
        .catch(() => {});
    });
    scheduleExpiry(socket, actor);

    try {
      const lastSeq = (socket.handshake.auth as HandshakeAuth).lastSeq;
      const rooms = roomsForActor(actor);
      const ready = await replayMissedEvents(signet, socket, orgId, typeof lastSeq === 'number' ? lastSeq : null, rooms, () =>
        socket.join([...rooms]),
      );
      socket.emit('ready', ready);
      await setPresence(signet, orgId, socket.id, { userId: actor.userId, name: actor.name, page: '', since: new Date().toISOString() });
      schedulePresenceBroadcast(signet, orgId);
    } catch (error) {
      signet.logger.warn({ err: error }, 'connection set-up failed');
      socket.disconnect(true);
    }
  }

  /** Ends the socket when its API key or session expires, without waiting for the next sweep. */
  function scheduleExpiry(socket: SignetSocket, actor: Actor) {
    // Far-off expiries are left to the periodic re-check: a timer per socket costs memory.
    if (!actor.expiresAt || Date.parse(actor.expiresAt) - Date.now() > ACCESS_SWEEP_MS * 2) return;
    const timer = setTimeout(() => {
      socket.emit('revoked', { reason: actor.principal.kind === 'apiKey' ? 'This API key has expired' : 'Your session has ended' });
      socket.disconnect(true);
    }, Math.max(0, Math.min(Date.parse(actor.expiresAt) - Date.now(), 2 ** 31 - 1)));
    timer.unref();
    socket.on('disconnect', () => clearTimeout(timer));
  }

  /** Re-checks this node's sockets in scope: those that lost access are disconnected, the rest re-roomed. */
  async function refreshLocalSockets(scope: AccessScope, callerSocketId?: string): Promise<void> {
    const matching = [...io.of('/').sockets.values()].filter((raw) => {
      const data = (raw as SignetSocket).data;
      if (!data?.principal) return false;
      const principal = data.principal;
      if (scope.orgId && data.orgId !== scope.orgId) return false;
      if (scope.userId && data.userId !== scope.userId) return false;
      if (scope.keyIds && (principal.kind !== 'apiKey' || !scope.keyIds.includes(principal.keyId))) return false;
      if (scope.sessionHash && (principal.kind === 'apiKey' || principal.sessionHash !== scope.sessionHash)) return false;
      if (scope.support && principal.kind !== 'support') return false;
      return true;
    }) as SignetSocket[];
    await Promise.all(
      matching.map(async (socket) => {
        try {
          const actor = await loadActor(signet.redis, signet.keys, socket.data.principal);
          const wanted = roomsForActor(actor);
          for (const room of socket.rooms) if (room !== socket.id && !wanted.has(room)) socket.leave(room);
          socket.join([...wanted]);
        } catch (error) {
          if (!(error instanceof CommandFailure) || error.code !== 'UNAUTHENTICATED') throw error;
          if (socket.id === callerSocketId) {
            // It still needs its acknowledgement; it receives no broadcasts meanwhile.
            for (const room of socket.rooms) if (room !== socket.id) socket.leave(room);
            socket.data.revokedAfterAck = error.message;
            return;
          }
          socket.emit('revoked', { reason: error.message });
          socket.disconnect(true);
        }
      }),
    );
  }

  io.on(REFRESH_EVENT as never, (scope: AccessScope, ack: (done: boolean) => void) => {
    refreshLocalSockets(scope).then(
      () => ack(true),
      () => ack(false),
    );
  });

  signet.refreshAccess = async (scope, callerSocketId) => {
    await refreshLocalSockets(scope, callerSocketId);
    // Every other node does the same and answers; the command is acknowledged only after that.
    // The change itself is committed by now, so a node that does not answer is logged, not
    // reported as a failed command (its sockets still re-check the actor on every command).
    try {
      // The Redis adapter's requestsTimeout (2 s) bounds the wait.
      const answers = (await (io as unknown as { serverSideEmitWithAck: (ev: string, arg: unknown) => Promise<boolean[]> })
        .serverSideEmitWithAck(REFRESH_EVENT, scope)) as boolean[];
      if (answers.some((done) => !done)) signet.logger.error({ scope: loggable(scope) }, 'a node failed to apply an access change');
    } catch (error) {
      signet.logger.error({ err: error, scope: loggable(scope) }, 'not every node confirmed an access change in time; the periodic re-check will catch up');
    }
  };

  // A backstop for anything a missed refresh left behind: every socket's actor is re-checked
  // periodically, and sockets that lost access are disconnected.
  const sweep = setInterval(() => {
    if (signet.shuttingDown) return;
    void refreshLocalSockets({}).catch((error) => signet.logger.debug({ err: error }, 'access sweep deferred'));
  }, ACCESS_SWEEP_MS);
  sweep.unref();
  io.engine.on('close', () => clearInterval(sweep));

  return io;
}
