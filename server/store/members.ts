// Memberships: a record per member of an organization and the organization's member set; each
// plan keeps the account's organizations (users.ts) in step. A CI user exists only as a member of
// one organization, so removing that membership removes its account too — whichever command does it.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { Audience } from './commit.js';
import type { MemberRecord } from './records.js';
import { changeEvent } from './events.js';
import { combinePlans, overwrite, parseLoaded, type Loaded, type WritePlan } from './plan.js';
import type { UserStore } from './users.js';

/** Who hears about memberships: everyone who may see the team. */
const TEAM: Audience[] = ['p:team:read'];

export function memberStore(redis: Redis, keys: RedisKeys, users: UserStore) {
  return {
    /** The membership of `userId` in `orgId` (an organization's members are read only with its id). */
    async get(orgId: string, userId: string): Promise<Loaded<MemberRecord> | null> {
      return parseLoaded<MemberRecord>(await redis.get(keys.member(orgId, userId)));
    },
    async isMember(orgId: string, userId: string): Promise<boolean> {
      return (await redis.exists(keys.member(orgId, userId))) === 1;
    },
    async list(orgId: string): Promise<MemberRecord[]> {
      const ids = await redis.smembers(keys.orgMembers(orgId));
      if (ids.length === 0) return [];
      const raws = await redis.mget(...ids.map((id) => keys.member(orgId, id)));
      return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as MemberRecord);
    },
    /** A new membership (the account exists, or is created in the same commit): only if not a member already. */
    create(member: MemberRecord): WritePlan {
      const key = keys.member(member.orgId, member.userId);
      return combinePlans(
        {
          expect: [{ key, equals: null }],
          ops: [
            ['set', key, JSON.stringify(member)],
            ['sadd', keys.orgMembers(member.orgId), member.userId],
          ],
          events: [changeEvent(member.orgId, 'member', 'created', member.userId, member, TEAM)],
        },
        users.joinOrg(member.userId, member.orgId),
      );
    },
    update(stored: Loaded<MemberRecord>, updated: MemberRecord): WritePlan {
      return overwrite(keys.member(updated.orgId, updated.userId), stored, updated, [changeEvent(updated.orgId, 'member', 'updated', updated.userId, updated, TEAM)]);
    },
    /** The membership ends; a CI user's account goes with it (its record, its email, its organizations). */
    remove(stored: Loaded<MemberRecord>): WritePlan {
      const member = stored.value;
      const key = keys.member(member.orgId, member.userId);
      return combinePlans(
        {
          expect: [{ key, equals: stored.raw }],
          ops: [
            ['del', key],
            ['srem', keys.orgMembers(member.orgId), member.userId],
          ],
          events: [changeEvent(member.orgId, 'member', 'deleted', member.userId, undefined, TEAM)],
        },
        users.leaveOrg(member.userId, member.orgId),
        member.kind === 'ciUser' ? users.remove({ id: member.userId, email: member.email }) : { expect: [], ops: [], events: [] },
      );
    },
    /** Every membership of a deleted organization, without events (the organization's deletion announces it). */
    removeAll(orgId: string, members: MemberRecord[]): WritePlan {
      return combinePlans(
        ...members.map((member) => ({ expect: [], ops: [['del', keys.member(orgId, member.userId)] as const], events: [] })),
        ...members.map((member) => users.leaveOrg(member.userId, orgId)),
        { expect: [], ops: [['del', keys.orgMembers(orgId)]], events: [] },
      );
    },
  };
}

export type MemberStore = ReturnType<typeof memberStore>;
