// Accounts: a record per user, the index of accounts by email (users:byEmail) and each account's
// organizations (user-orgs). Accounts belong to no organization, so reads are by id or email; the
// user-orgs index is written here for the membership plans (members.ts).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { UserRecord } from './records.js';
import { overwrite, parseLoaded, type Loaded, type WritePlan } from './plan.js';

export function userStore(redis: Redis, keys: RedisKeys) {
  const get = async (userId: string): Promise<Loaded<UserRecord> | null> => parseLoaded<UserRecord>(await redis.get(keys.user(userId)));
  const idByEmail = (email: string): Promise<string | null> => redis.hget(keys.usersByEmail, email.toLowerCase());
  return {
    get,
    idByEmail,
    /** The account of an email address (one per address), if any. */
    async byEmail(email: string): Promise<Loaded<UserRecord> | null> {
      const id = await idByEmail(email);
      return id ? get(id) : null;
    },
    /** The organizations the account is a member of. */
    async orgIds(userId: string): Promise<string[]> {
      return redis.smembers(keys.userOrgs(userId));
    },
    /** A new account: its id and its email must both be free when the change commits. */
    create(user: UserRecord): WritePlan {
      return {
        expect: [
          { key: keys.user(user.id), equals: null },
          { key: keys.usersByEmail, field: user.email, equals: null },
        ],
        ops: [
          ['set', keys.user(user.id), JSON.stringify(user)],
          ['hset', keys.usersByEmail, user.email, user.id],
        ],
        events: [],
      };
    },
    /** An account changed (its name or password; the email stays). */
    update(stored: Loaded<UserRecord>, updated: UserRecord): WritePlan {
      return overwrite(keys.user(updated.id), stored, updated);
    },
    /** An account deleted with its indexes (a CI user's, with its only membership). */
    remove(user: Pick<UserRecord, 'id' | 'email'>): WritePlan {
      return {
        expect: [],
        ops: [
          ['del', keys.user(user.id)],
          ['hdel', keys.usersByEmail, user.email],
          ['del', keys.userOrgs(user.id)],
        ],
        events: [],
      };
    },
    /** The account joins an organization (the membership record is the members module's). */
    joinOrg(userId: string, orgId: string): WritePlan {
      return { expect: [], ops: [['sadd', keys.userOrgs(userId), orgId]], events: [] };
    },
    leaveOrg(userId: string, orgId: string): WritePlan {
      return { expect: [], ops: [['srem', keys.userOrgs(userId), orgId]], events: [] };
    },
  };
}

export type UserStore = ReturnType<typeof userStore>;
