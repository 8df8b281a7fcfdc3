// What loading an actor reads (auth/actor.ts), in one round trip: the principal's own record (the
// session or the API key), the membership, the organization, and the account (a session's) or the
// keys it was created with (a key's). A command's first read, so it is one MGET and nothing more.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export interface ActorRecords {
  principalRaw: string | null;
  memberRaw: string | null;
  orgRaw: string | null;
}

/** A session's: its record, the membership, the organization and the account. */
export async function readSessionActor(
  redis: Redis,
  keys: RedisKeys,
  session: { sessionHash: string; userId: string; orgId: string },
): Promise<ActorRecords & { userRaw: string | null }> {
  const [principalRaw, memberRaw, orgRaw, userRaw] = await redis.mget(
    keys.session(session.sessionHash),
    keys.member(session.orgId, session.userId),
    keys.org(session.orgId),
    keys.user(session.userId),
  );
  return { principalRaw: principalRaw ?? null, memberRaw: memberRaw ?? null, orgRaw: orgRaw ?? null, userRaw: userRaw ?? null };
}

/** An API key's: its record, its owner's membership, the organization and the keys it was created with (parent first). */
export async function readKeyActor(
  redis: Redis,
  keys: RedisKeys,
  key: { keyId: string; ownerId: string; orgId: string; ancestry: readonly string[] },
): Promise<ActorRecords & { ancestorRaws: Array<string | null> }> {
  const [principalRaw, memberRaw, orgRaw, ...ancestorRaws] = await redis.mget(
    keys.apiKey(key.keyId),
    keys.member(key.orgId, key.ownerId),
    keys.org(key.orgId),
    ...key.ancestry.map((id) => keys.apiKey(id)),
  );
  return { principalRaw: principalRaw ?? null, memberRaw: memberRaw ?? null, orgRaw: orgRaw ?? null, ancestorRaws };
}
