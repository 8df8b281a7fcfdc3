// Organizations: a record per organization, the index of live ones by slug and the set of their
// ids, and the one-time setup token of an installation that has none yet. An organization is
// deleted as a tombstone: its record stays (with deletedAt) and its audit log is kept, while every
// membership, invitation and API key — everything that grants access — goes in the same commit.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { toOrganization, type ApiKeyRecord, type InvitationRecord, type MemberRecord, type OrganizationRecord } from './records.js';
import { changeEvent } from './events.js';
import { combinePlans, overwrite, parseLoaded, readMany, type Loaded, type WritePlan } from './plan.js';
import type { MemberStore } from './members.js';
import type { ApiKeyStore } from './apiKeys.js';
import type { InvitationStore } from './invitations.js';

export function organizationStore(redis: Redis, keys: RedisKeys, parts: { members: MemberStore; invitations: InvitationStore; apiKeys: ApiKeyStore }) {
  return {
    async get(orgId: string): Promise<Loaded<OrganizationRecord> | null> {
      return parseLoaded<OrganizationRecord>(await redis.get(keys.org(orgId)));
    },
    async idBySlug(slug: string): Promise<string | null> {
      return redis.hget(keys.orgSlugs, slug);
    },
    /** Every live organization's id (for the node's watches that go through them all). */
    async ids(): Promise<string[]> {
      return redis.smembers(keys.orgIds);
    },
    /** Every organization's record (deleted ones included: they carry deletedAt). */
    async list(): Promise<OrganizationRecord[]> {
      const ids = await redis.smembers(keys.orgIds);
      return readMany<OrganizationRecord>(redis, ids.map(keys.org));
    },
    /** Whether the installation has any organization (setup is offered only while it has none). */
    async any(): Promise<boolean> {
      return (await redis.scard(keys.orgIds)) > 0;
    },
    /** Up to `count` organization ids, chosen at random (a sample to check the master key against). */
    async sampleIds(count: number): Promise<string[]> {
      return redis.srandmember(keys.orgIds, count);
    },
    /** A new organization: only while its slug is free. */
    create(org: OrganizationRecord): WritePlan {
      return {
        expect: [{ key: keys.orgSlugs, field: org.slug, equals: null }],
        ops: [
          ['set', keys.org(org.id), JSON.stringify(org)],
          ['hset', keys.orgSlugs, org.slug, org.id],
          ['sadd', keys.orgIds, org.id],
        ],
        events: [],
      };
    },
    /** Its settings changed (name, Open Source, support, owner; the slug stays). */
    update(stored: Loaded<OrganizationRecord>, updated: OrganizationRecord): WritePlan {
      return overwrite(keys.org(updated.id), stored, updated, [changeEvent(updated.id, 'organization', 'updated', updated.id, toOrganization(updated), ['all'])]);
    },
    /** Deleted: the tombstone `deleted` written over the record as read, with what it had that grants access. */
    remove(
      stored: Loaded<OrganizationRecord>,
      deleted: OrganizationRecord,
      holding: { members: MemberRecord[]; invitations: InvitationRecord[]; apiKeys: ApiKeyRecord[] },
    ): WritePlan {
      const org = stored.value;
      return combinePlans(
        {
          expect: [{ key: keys.org(org.id), equals: stored.raw }],
          ops: [
            ['set', keys.org(org.id), JSON.stringify(deleted)],
            ['hdel', keys.orgSlugs, org.slug],
            ['srem', keys.orgIds, org.id],
          ],
          events: [changeEvent(org.id, 'organization', 'deleted', org.id, undefined, ['all'])],
        },
        parts.members.removeAll(org.id, holding.members),
        parts.invitations.removeAll(org.id, holding.invitations),
        parts.apiKeys.removeAll(org.id, holding.apiKeys),
      );
    },
    /** The one-time link that creates the first organization; only its hash is stored. */
    setupToken: {
      /** Whether a setup token waits to be used (the installation is not set up yet). */
      async pending(): Promise<boolean> {
        return (await redis.exists(keys.setupToken)) === 1;
      },
      /** Stores the hash unless a token exists (the first of several nodes starting at once wins). */
      async issue(tokenHash: string): Promise<boolean> {
        return (await redis.set(keys.setupToken, tokenHash, 'NX')) === 'OK';
      },
      async current(): Promise<string | null> {
        return redis.get(keys.setupToken);
      },
      /** Uses it up; false if someone else did first. */
      async consume(): Promise<boolean> {
        return (await redis.del(keys.setupToken)) === 1;
      },
      /** Puts a consumed token back (the setup it was used for created nothing). */
      async restore(tokenHash: string): Promise<void> {
        await redis.set(keys.setupToken, tokenHash, 'NX');
      },
    },
  };
}
