// The store's per-entity modules, one per kind of record: each reads its records scoped to an
// organization and plans its writes (plan.ts), owning the record's key and every index over it.
// Writers use these and never name a Redis key.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { webhookStore } from './webhooks.js';
import { accountStores } from './accounts.js';

export function openEntityStores(redis: Redis, keys: RedisKeys) {
  return {
    webhooks: webhookStore(redis, keys),
    ...accountStores(redis, keys),
  };
}

export type EntityStores = ReturnType<typeof openEntityStores>;
