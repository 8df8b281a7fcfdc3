// What loading an actor reads (auth/actor.ts), in one round trip: the principal's own record (the
// session or the API key), the membership, the organization, and the account (a session's) or the
// keys it was created with (a key's). A command's first read, so it is one MGET — or, with the rate
// limit, part of the one Lua call that also counts the actor's budget (rateLimit.ts).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

/** A principal as far as its records go (auth/actor.ts's Principal). */
export type ActorPrincipal =
  | { kind: 'session' | 'support'; sessionHash: string; userId: string; orgId: string }
  | { kind: 'apiKey'; keyId: string; ownerId: string; orgId: string; ancestry: readonly string[] };

/**
 * The keys, in this order: a session's record, the membership, the organization and the account;
 * or an API key's record, its owner's membership, the organization and the keys it was created
 * with (parent first).
 */
export function actorRecordKeys(keys: RedisKeys, principal: ActorPrincipal): string[] {
  if (principal.kind === 'apiKey') {
    return [keys.apiKey(principal.keyId), keys.member(principal.orgId, principal.ownerId), keys.org(principal.orgId), ...principal.ancestry.map((id) => keys.apiKey(id))];
  }
  return [keys.session(principal.sessionHash), keys.member(principal.orgId, principal.userId), keys.org(principal.orgId), keys.user(principal.userId)];
}

/** The actor's records as one module of the store: their keys (for the rate limit's one call) and one read of them. */
export function actorRecordStore(redis: Redis, keys: RedisKeys) {
  return {
    keysOf: (principal: ActorPrincipal): string[] => actorRecordKeys(keys, principal),
    /** The records of actorRecordKeys, in one MGET (null where one is gone). */
    read: (principal: ActorPrincipal): Promise<Array<string | null>> => redis.mget(actorRecordKeys(keys, principal)),
  };
}
