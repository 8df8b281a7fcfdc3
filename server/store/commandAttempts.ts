// The request ids of commands (commands/attempt.ts): one key per organization, actor and request id,
// holding how far the attempt that claimed it got. These are its reads and writes: a claim taken
// only while the id is free, the commit's guard (the claim still this attempt's, marked committed in
// the same call), and the compare-and-set that stores the answer over it or frees the id.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { WriteOp } from './commit.js';
import type { WritePlan } from './plan.js';

/** Sets or deletes a key only while it holds the expected value. */
const COMPARE_AND_SET_LUA = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

export function commandAttemptStore(redis: Redis, keys: RedisKeys) {
  return {
    /** The key of `requestId` for this actor (`actorScope`) in the organization: a claim's handle. */
    keyOf: (orgId: string, actorScope: string, requestId: string): string => keys.commandAttempt(orgId, actorScope, requestId),
    /** Claims the id with `value` for `ttlMs`, only if nobody holds it; whether it did. */
    async claim(key: string, value: string, ttlMs: number): Promise<boolean> {
      return (await redis.set(key, value, 'PX', ttlMs, 'NX')) === 'OK';
    },
    read: (key: string): Promise<string | null> => redis.get(key),
    /** What a commit of the claiming attempt adds: the claim is still `current`, and becomes `committed`. */
    guard(key: string, current: string, committed: string, ttlMs: number): WritePlan {
      return { expect: [{ key, equals: current }], ops: [['set', key, committed, ttlMs] satisfies WriteOp], events: [] };
    },
    /** Replaces the claim's value (`next`, for `ttlMs`) only while it is `expected`; an empty `next` frees the id. */
    async replace(key: string, expected: string, next: string, ttlMs: number): Promise<void> {
      await redis.eval(COMPARE_AND_SET_LUA, 1, key, expected, next, next === '' ? '' : String(ttlMs));
    },
  };
}

export type CommandAttemptStore = ReturnType<typeof commandAttemptStore>;
