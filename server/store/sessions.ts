// Sessions: a record per signed-in browser, under the hash of its cookie, expiring by itself.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { SessionRecord } from './records.js';
import { parseLoaded, type Loaded, type WritePlan } from './plan.js';

export function sessionStore(redis: Redis, keys: RedisKeys) {
  return {
    async get(sessionHash: string): Promise<Loaded<SessionRecord> | null> {
      return parseLoaded<SessionRecord>(await redis.get(keys.session(sessionHash)));
    },
    create(sessionHash: string, session: SessionRecord, ttlMs: number): WritePlan {
      return { expect: [], ops: [['set', keys.session(sessionHash), JSON.stringify(session), ttlMs]], events: [] };
    },
    remove(sessionHash: string): WritePlan {
      return { expect: [], ops: [['del', keys.session(sessionHash)]], events: [] };
    },
  };
}
