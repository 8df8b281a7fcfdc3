// The Redis connection. Settings chosen so a command never hangs when Redis is gone: no offline
// queue (a command while disconnected fails at once), a timeout per Redis call as a backstop, and endless
// reconnection so the server recovers by itself when Redis returns. Redis is found by URL, or
// through Redis Sentinel, which names the current primary (and a new one after a failover).
import { Redis, type RedisOptions } from 'ioredis';
import type { Config, SentinelAddress } from '../config.js';
import { installCommitScript } from './commit.js';

export type { Redis };

/** The primary as Redis Sentinel knows it (REDIS_SENTINELS, REDIS_SENTINEL_MASTER). */
export interface SentinelTarget {
  /** A few of the Sentinels suffice: ioredis learns the others from them. */
  sentinels: SentinelAddress[];
  /** The name the Sentinels monitor the primary under. */
  name: string;
  password?: string;
  sentinelPassword?: string;
}

/** Where Redis is: a URL (redis://, rediss://, unix:///path/to/redis.sock), or Sentinels naming the primary. */
export type RedisTarget = string | SentinelTarget;

/** The Redis the configuration names (REDIS_URL or REDIS_SENTINELS); null: none, use the local one. */
export function configuredRedis(config: Pick<Config, 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_MASTER' | 'REDIS_PASSWORD' | 'REDIS_SENTINEL_PASSWORD'>): RedisTarget | null {
  if (config.REDIS_SENTINELS) {
    return {
      sentinels: config.REDIS_SENTINELS,
      name: config.REDIS_SENTINEL_MASTER,
      password: config.REDIS_PASSWORD,
      sentinelPassword: config.REDIS_SENTINEL_PASSWORD,
    };
  }
  return config.REDIS_URL ?? null;
}

/** What to tell an operator about the target: never a password. */
export function describeRedis(target: RedisTarget): string {
  if (typeof target !== 'string') return `Sentinel primary "${target.name}" via ${target.sentinels.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',')}`;
  if (target.startsWith('unix://')) return target;
  const url = new URL(target);
  url.username = '';
  url.password = '';
  return url.toString();
}

/**
 * A backstop, not what bounds a command: commands have one deadline for all their Redis calls
 * (SIGNET_COMMAND_DEADLINE_MS, server/commands/attempt.ts). It is longer than that deadline on
 * purpose: a commit whose answer is late (Redis paused) still gets it when Redis resumes, so the
 * command's result is recorded for a retry with its request id. This is its least; a node whose
 * deadline is longer uses redisCallTimeoutMs(deadline).
 */
export const REDIS_COMMAND_TIMEOUT_MS = 5000;

/**
 * The backstop for the clients that run a node's commands: longer than their deadline, whatever it
 * is configured to (5 s with the default 1.5 s deadline). A shorter one would cut commands before
 * the deadline their operator chose, and answer a late commit before Redis could.
 */
export function redisCallTimeoutMs(commandDeadlineMs: number): number {
  return Math.max(REDIS_COMMAND_TIMEOUT_MS, commandDeadlineMs + 3500);
}

function redisOptions(): RedisOptions {
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

/**
 * Through Sentinel, a socket that gets no answer this long after a request is given up, so the
 * client asks the Sentinels again: how a node leaves a primary that froze (stopped, cut off by the
 * network) without closing its connections, once Sentinel has promoted another. Well beyond any
 * answer (commands time out at REDIS_COMMAND_TIMEOUT_MS with the default deadline), and beyond the
 * event-loop stalls of a loaded machine, which would otherwise give up sockets whose answer was
 * waiting to be read. A node whose deadline is set above 2.5 s still leaves a silent primary after
 * this long, before its deadline: finding the promoted one matters more than waiting.
 */
const SENTINEL_SOCKET_TIMEOUT_MS = 6000;

/**
 * Through Sentinel: ioredis asks a Sentinel for the primary on every (re)connection. A primary that
 * dies closes its connections; one that Sentinel demotes while running has them closed by Sentinel
 * (CLIENT KILL); one that froze is left after SENTINEL_SOCKET_TIMEOUT_MS. A write that still reaches
 * a demoted primary gets READONLY, and then the client reconnects (asking the Sentinels again)
 * rather than resend, since the caller was told it failed. ioredis' own `failoverDetector` stays
 * off: a `+switch-master` that arrives while a client is reconnecting ends that client for good
 * (seen in the failover test: a node whose clients never came back).
 */
function sentinelOptions(target: SentinelTarget): RedisOptions {
  return {
    sentinels: target.sentinels,
    name: target.name,
    password: target.password,
    sentinelPassword: target.sentinelPassword,
    socketTimeout: SENTINEL_SOCKET_TIMEOUT_MS,
    sentinelCommandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 1 : false),
  };
}

/** `options` override the defaults (redisOptions, and sentinelOptions through Sentinel). */
export function createRedisClient(target: RedisTarget, options: RedisOptions = {}): Redis {
  const merged = { ...redisOptions(), ...options };
  const client =
    typeof target !== 'string' ? new Redis({ ...redisOptions(), ...sentinelOptions(target), ...options })
    : target.startsWith('unix://') ? new Redis({ ...merged, path: target.slice('unix://'.length) })
    : new Redis(target, merged);
  // Before the first command: an auto-pipeline knows only the scripts defined when it was opened,
  // so a script defined while one is open fails in it (and breaks that pipeline's replies).
  installCommitScript(client);
  return client;
}

export async function connectRedis(target: RedisTarget, options: RedisOptions = {}): Promise<Redis> {
  const client = createRedisClient(target, options);
  // Without a listener ioredis prints every reconnection failure as an unhandled error.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/**
 * A subscriber sends nothing once subscribed, so a frozen primary would go unnoticed by it. Through
 * Sentinel it PINGs now and then: a PING left unanswered gives the socket up (socketTimeout) and
 * the subscriber finds the new primary. Returns the stop function.
 */
export function checkSubscriber(client: Redis, target: RedisTarget): () => void {
  if (typeof target === 'string') return () => {};
  const timer = setInterval(() => void client.ping().catch(() => {}), SENTINEL_SOCKET_TIMEOUT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** True for the errors ioredis gives when Redis cannot be reached or does not answer in time. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // File-system errors carry the path they are about, fetch errors are TypeErrors or aborts;
  // neither says anything about Redis.
  if ('path' in error || error.name === 'TypeError' || error.name === 'AbortError') return false;
  const text = `${error.name} ${error.message}`;
  // READONLY: a primary demoted by a failover refused the write (nothing written); the client is
  // already asking the Sentinels for the new one. Replication timed out: see durability.ts.
  return /enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|Stream isn't writeable|MaxRetriesPerRequest|ETIMEDOUT|ENOENT|connect E|LOADING|not ready|READONLY|All sentinels are unreachable|Replication timed out|Socket timeout/i.test(
    text,
  );
}

/**
 * Connections for BullMQ queues and workers, which want their own: a worker blocks and must never
 * give up on Redis; BullMQ issues blocking commands, so auto-pipelining stays off.
 */
export function bullConnections(target: RedisTarget): { connection(forWorker: boolean): Redis; disconnectAll(): void } {
  const clients: Redis[] = [];
  return {
    connection(forWorker) {
      const client = createRedisClient(target, {
        lazyConnect: false,
        maxRetriesPerRequest: null,
        enableOfflineQueue: forWorker,
        enableAutoPipelining: false,
        commandTimeout: undefined,
        // A worker's connections are copied for its blocking waits, which may rightly hear nothing
        // for seconds; BullMQ resets a wait that outlasts its timeout by itself.
        ...(forWorker ? { socketTimeout: undefined } : {}),
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
