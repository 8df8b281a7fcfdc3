// The store as a node or a CLI run opens it: one Redis client, its keys, the entity modules that
// read and plan (entities.ts), and `commit` (commit.ts), which writes a change with its audit
// entries and events in one atomic call and publishes it on the commit channel; with
// SIGNET_DURABILITY=replicated it resolves once a replica has it too. Acknowledging a commit to a
// client is the runtime's part (signet.ts `apply`).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { redisKeys, type RedisKeys } from './keys.js';
import { commit, type CommitPlan, type Committed } from './commit.js';
import { durably } from './durability.js';
import { openEntityStores, type EntityStores } from './entities.js';

export interface Store extends EntityStores {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /**
   * Who this process is in the commits it publishes (random, unlike a configured node id, which two
   * nodes could share): how a node knows its own commits when they come back.
   */
  readonly commitOrigin: string;
  commit(plan: CommitPlan): Promise<Committed>;
  /** Whether Redis answers (a node's readiness). */
  ping(): Promise<string>;
}

export function openStore(config: Config, redis: Redis): Store {
  const keys = redisKeys(config.SIGNET_REDIS_PREFIX);
  const commitOrigin = randomUUID();
  const publish = { channel: keys.committedChannel, origin: commitOrigin };
  return {
    ...openEntityStores(redis, keys),
    redis,
    keys,
    commitOrigin,
    ping: () => redis.ping(),
    commit: (plan) => durably(redis, config, () => commit(redis, keys, config.SIGNET_EVENT_RETENTION, plan, publish)),
  };
}
