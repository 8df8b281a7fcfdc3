// What an acknowledged command survives (SIGNET_DURABILITY, README "Durability settings").
// `local`: the primary has it, on disk when it runs with appendfsync always. `replicated`: a replica
// has it too: after the commit, Redis WAIT on the connection that wrote it, so a failover to that
// replica loses nothing acknowledged.
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { REDIS_COMMAND_TIMEOUT_MS } from './redis.js';

/** How long a commit waits for a replica: under the per-command timeout, so WAIT answers first. */
const REPLICA_WAIT_MS = Math.min(1000, REDIS_COMMAND_TIMEOUT_MS - 250);

/** No replica confirmed a commit in time: it is on the primary, and may or may not survive a failover. */
class ReplicaWaitTimeout extends Error {
  constructor(readonly replicas: number) {
    // "timed out": the command is reported as applied entirely or not at all (isRedisUnavailable).
    super(`Replication timed out: no replica confirmed the write within ${REPLICA_WAIT_MS} ms`);
    this.name = 'ReplicaWaitTimeout';
  }
}

/**
 * Wraps a commit so that, with replicated durability, it resolves only once a replica has the
 * write. WAIT counts the writes of the connection it is sent on, so it must go on the one that
 * carried the commit: if the client reconnected in between (to a new primary after a failover,
 * where WAIT would count nothing of ours), that is no confirmation.
 */
export async function durably<T>(redis: Redis, config: Pick<Config, 'SIGNET_DURABILITY'>, write: () => Promise<T>): Promise<T> {
  if (config.SIGNET_DURABILITY !== 'replicated') return write();
  const connection = redis.stream;
  const written = await write();
  await replicaConfirms(redis, config, connection);
  return written;
}

/**
 * With replicated durability, resolves once a replica has every write made so far on the client's
 * connection (`connection`: the one the writes went on, when known); at once with local durability.
 */
export async function replicaConfirms(redis: Redis, config: Pick<Config, 'SIGNET_DURABILITY'>, connection = redis.stream): Promise<void> {
  if (config.SIGNET_DURABILITY !== 'replicated') return;
  const replicas = await redis.wait(1, REPLICA_WAIT_MS);
  if (replicas < 1 || redis.stream !== connection) throw new ReplicaWaitTimeout(replicas);
}

/**
 * At start, says when Redis cannot keep the chosen promise: no replica connected for `replicated`
 * (commands answer UNAVAILABLE until one is), or a primary that answers before its append-only
 * file is on disk. A Redis that refuses CONFIG (managed services often do) is taken on trust.
 */
export async function checkDurability(redis: Redis, config: Pick<Config, 'SIGNET_DURABILITY'>, log: Logger): Promise<void> {
  if (config.SIGNET_DURABILITY === 'replicated') {
    const info = await redis.info('replication');
    const replicas = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
    if (replicas === 0) log.warn('SIGNET_DURABILITY=replicated, but the primary has no replica connected: commands answer UNAVAILABLE until one is');
  }
  const reply = await redis.config('GET', 'append*').catch(() => null);
  if (!Array.isArray(reply)) return;
  const settings = new Map<unknown, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) settings.set(reply[i], reply[i + 1]);
  if (settings.get('appendonly') !== 'yes' || settings.get('appendfsync') !== 'always') {
    log.warn(
      { appendonly: settings.get('appendonly'), appendfsync: settings.get('appendfsync') },
      'Redis answers before the write is on its disk (not appendonly yes + appendfsync always): a crash of its machine can lose acknowledged commands',
    );
  }
}
