// API keys: a record per key and the organization's set of keys. A key created with another key
// descends from it (its ancestry): it is created only while those keys are unchanged and revoked
// with any of them. Reads are scoped to an organization, except the lookup that authenticates a
// token (the token's secret is the proof).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { Audience, WriteOp } from './commit.js';
import { toApiKey, type ApiKeyRecord } from './records.js';
import { changeEvent } from './events.js';
import { inOrg, parseLoaded, type Loaded, type WritePlan } from './plan.js';
import type { MemberStore } from './members.js';

/** Who hears about a key: its owner; a CI user's keys also those who manage the team. */
const keyAudience = (ownerId: string, ownerIsCiUser: boolean): Audience[] => (ownerIsCiUser ? [`u:${ownerId}`, 'p:team:manage'] : [`u:${ownerId}`]);

/** Sets a key's last-used time only while the key exists, so a touch racing a revocation leaves nothing behind. */
const TOUCH_KEY_LUA = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SET', KEYS[2], ARGV[1]) end return 1";

export function apiKeyStore(redis: Redis, keys: RedisKeys, members: MemberStore) {
  const get = async (keyId: string) => parseLoaded<ApiKeyRecord>(await redis.get(keys.apiKey(keyId)));
  async function list(orgId: string): Promise<Array<{ record: ApiKeyRecord; lastUsedAt: string | null }>> {
    const ids = await redis.smembers(keys.orgApiKeys(orgId));
    if (ids.length === 0) return [];
    const records = (await redis.mget(...ids.map(keys.apiKey))).filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as ApiKeyRecord);
    const lastUsed = records.length ? await redis.mget(...records.map((record) => keys.apiKeyLastUsed(record.id))) : [];
    return records.map((record, i) => ({ record, lastUsedAt: lastUsed[i] ?? null }));
  }
  return {
    async get(orgId: string, keyId: string): Promise<Loaded<ApiKeyRecord> | null> {
      return inOrg(await get(keyId), orgId);
    },
    /** The key a presented token names, in whichever organization (the caller checks the token's secret against it). */
    async forToken(keyId: string): Promise<ApiKeyRecord | null> {
      return (await get(keyId))?.value ?? null;
    },
    list,
    /** Records that the key was used at `at` (not audited: using a key changes nothing of record). */
    async touch(keyId: string, at: Date): Promise<void> {
      await redis.eval(TOUCH_KEY_LUA, 2, keys.apiKey(keyId), keys.apiKeyLastUsed(keyId), at.toISOString());
    },
    /**
     * A new key. `createdWith`: the keys it was created with, as loaded (its ancestry); the commit
     * refuses if one of them changed or was revoked meanwhile.
     */
    create(record: ApiKeyRecord, ownerIsCiUser: boolean, createdWith: ReadonlyArray<{ id: string; raw: string }> = []): WritePlan {
      return {
        expect: [{ key: keys.apiKey(record.id), equals: null }, ...createdWith.map(({ id, raw }) => ({ key: keys.apiKey(id), equals: raw }))],
        ops: [
          ['set', keys.apiKey(record.id), JSON.stringify(record)],
          ['sadd', keys.orgApiKeys(record.orgId), record.id],
        ],
        events: [changeEvent(record.orgId, 'apiKey', 'created', record.id, toApiKey(record, null), keyAudience(record.ownerId, ownerIsCiUser))],
      };
    },
    /**
     * Revokes `roots` and every key created with one of them, at any depth (`descendants`, which may
     * belong to others). A root given as loaded is revoked only if unchanged meanwhile.
     */
    async revoke(orgId: string, roots: Array<Loaded<ApiKeyRecord> | ApiKeyRecord>) {
      const rootRecords = roots.map((root) => ('raw' in root ? root.value : root));
      const rootIds = new Set(rootRecords.map((root) => root.id));
      const [all, team] = await Promise.all([list(orgId), members.list(orgId)]);
      const descendants = all.map(({ record }) => record).filter((record) => !rootIds.has(record.id) && (record.ancestry ?? []).some((id) => rootIds.has(id)));
      const ciUserIds = new Set(team.filter((member) => member.kind === 'ciUser').map((member) => member.userId));
      const revoked = [...rootRecords, ...descendants];
      const plan: WritePlan = {
        expect: roots.flatMap((root) => ('raw' in root ? [{ key: keys.apiKey(root.value.id), equals: root.raw }] : [])),
        ops: revoked.flatMap((key): WriteOp[] => [
          ['del', keys.apiKey(key.id)],
          ['del', keys.apiKeyLastUsed(key.id)],
          ['srem', keys.orgApiKeys(orgId), key.id],
        ]),
        events: revoked.map((key) => changeEvent(orgId, 'apiKey', 'deleted', key.id, undefined, keyAudience(key.ownerId, ciUserIds.has(key.ownerId)))),
      };
      return { plan, revoked, descendants };
    },
    /** Every key of a deleted organization, without events (the organization's deletion announces it). */
    removeAll(orgId: string, records: ApiKeyRecord[]): WritePlan {
      return {
        expect: [],
        ops: [...records.map((record) => ['del', keys.apiKey(record.id)] as const), ['del', keys.orgApiKeys(orgId)]],
        events: [],
      };
    },
  };
}

export type ApiKeyStore = ReturnType<typeof apiKeyStore>;
