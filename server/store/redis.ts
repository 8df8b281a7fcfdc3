// The Redis connection. Settings chosen so a command never hangs when Redis is gone: no offline
// queue (a command while disconnected fails at once), a timeout per Redis call as a backstop, and
// endless reconnection so the server recovers by itself when Redis returns.
import { Redis, type RedisOptions } from 'ioredis';
import { installCommitScript } from './commit.js';

export type { Redis };

/**
 * A backstop, not what bounds a command: commands have one deadline for all their Redis calls
 * (SIGNET_COMMAND_DEADLINE_MS, server/commands/attempt.ts). It is longer than that deadline on
 * purpose: a commit whose answer is late (Redis paused) still gets it when Redis resumes, so the
 * command's result is recorded for a retry with its request id.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 5000;

export function redisOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    connectTimeout: 1500,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    lazyConnect: true,
    // Commands issued in the same tick share one write: fewer syscalls under load.
    enableAutoPipelining: true,
  };
}

/** Accepts redis://, rediss:// and unix:///path/to/redis.sock. */
export function createRedisClient(url: string, options: RedisOptions = {}): Redis {
  const merged = { ...redisOptions(), ...options };
  const client = url.startsWith('unix://') ? new Redis({ ...merged, path: url.slice('unix://'.length) }) : new Redis(url, merged);
  // Before the first command: an auto-pipeline knows only the scripts defined when it was opened,
  // so a script defined while one is open fails in it (and breaks that pipeline's replies).
  installCommitScript(client);
  return client;
}

export async function connectRedis(url: string, options: RedisOptions = {}): Promise<Redis> {
  const client = createRedisClient(url, options);
  // Without a listener ioredis prints every reconnection failure as an unhandled error.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** True for the errors ioredis gives when Redis cannot be reached or does not answer in time. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // File-system errors carry the path they are about, fetch errors are TypeErrors or aborts;
  // neither says anything about Redis.
  if ('path' in error || error.name === 'TypeError' || error.name === 'AbortError') return false;
  const text = `${error.name} ${error.message}`;
  return /enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|Stream isn't writeable|MaxRetriesPerRequest|ETIMEDOUT|ENOENT|connect E|LOADING|not ready/i.test(
    text,
  );
}

/**
 * Connections for BullMQ queues and workers, which want their own: a worker blocks and must never
 * give up on Redis; BullMQ issues blocking commands, so auto-pipelining stays off.
 */
export function bullConnections(url: string): { connection(forWorker: boolean): Redis; disconnectAll(): void } {
  const clients: Redis[] = [];
  return {
    connection(forWorker) {
      const client = createRedisClient(url, {
        lazyConnect: false,
        maxRetriesPerRequest: null,
        enableOfflineQueue: forWorker,
        enableAutoPipelining: false,
        commandTimeout: undefined,
      });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    disconnectAll() {
      for (const client of clients) client.disconnect();
    },
  };
}
