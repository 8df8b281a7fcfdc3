// The Socket.IO server on the node's HTTP server: the rooms the commit feed delivers into, shared
// with the other nodes through the Redis adapter, and the checks made before a connection is
// accepted at all (Origin, a credential refused a moment ago). The handshake proper and what a
// connection does are socketServer.ts.
import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { parse as parseCookie } from 'cookie';
import type { Redis } from 'ioredis';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/lib/shared/events.js';
import type { Config } from '../config.js';
import type { RedisKeys } from '../store/keys.js';
import { SESSION_COOKIE } from '../auth/sessions.js';
import { tokenHash } from '../auth/secrets.js';
import { rateLimited, type CommandFailure } from '../errors.js';
import { signetParser } from './encodedEvents.js';

export type SignetIo = Server<ClientToServerEvents, ServerToClientEvents>;

/**
 * Credentials (a session or an API key, by hash) whose handshake was refused for their actor's rate
 * limit, and until when: a client that comes straight back is refused again before the WebSocket
 * upgrade (a session cookie) or before any Redis call (an API key).
 */
export class RefusedCredentials {
  private readonly until = new Map<string, number>();

  /** RATE_LIMITED while the credential's refusal lasts, else null. */
  stillRefused(credential: string): CommandFailure | null {
    const until = this.until.get(credential);
    if (until === undefined) return null;
    const ms = until - Date.now();
    if (ms <= 0) {
      this.until.delete(credential);
      return null;
    }
    return rateLimited(`Too many commands; try again in ${Math.ceil(ms / 1000)} s`, ms);
  }

  remember(credential: string, retryAfterMs: number): void {
    // Only credentials that authenticated get here; expired entries go when the map grows.
    if (this.until.size >= 10_000) for (const [key, until] of this.until) if (until <= Date.now()) this.until.delete(key);
    this.until.set(credential, Date.now() + retryAfterMs);
  }
}

export function createSocketIo(
  httpServer: HttpServer,
  config: Config,
  keys: RedisKeys,
  adapterClients: { pub: Redis; sub: Redis },
  refused: RefusedCredentials,
): SignetIo {
  return new Server(httpServer, {
    path: '/socket.io',
    // Bounded deliberately: a larger message is refused and the socket closed (SPEC §10).
    maxHttpBufferSize: config.SIGNET_MAX_MESSAGE_BYTES,
    serveClient: false,
    // Events from the commit channel are sent on as written (encodedEvents.ts).
    parser: signetParser,
    // Same origin only: a browser page from elsewhere cannot ride the session cookie.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      if (origin && !config.allowedOrigins.includes(origin)) return callback(`origin ${origin} is not allowed`, false);
      const sessionId = parseCookie(req.headers.cookie ?? '')[SESSION_COOKIE];
      const refusal = sessionId ? refused.stillRefused(tokenHash(sessionId)) : null;
      if (refusal) return callback(refusal.message, false);
      callback(null, true);
    },
    // Other nodes' confirmations of a change of access are awaited within the command's deadline
    // (half a second is left for the rest of the command); a node slower than that applies the
    // change in feed order anyway, before anything committed after it.
    adapter: createAdapter(adapterClients.pub, adapterClients.sub, {
      key: keys.adapterChannel,
      requestsTimeout: Math.max(100, Math.min(2000, config.SIGNET_COMMAND_DEADLINE_MS - 500)),
    }),
  });
}
