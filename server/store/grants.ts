// Pre-approved windows (grants): a record per grant and the set of a policy's grants. Reads are
// scoped to an organization; the plans keep the policy's set in step with the records. A grant's
// change is checked against its policy as read: the writer combines `policies.unchanged(policy)`.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { GrantRecord } from './records.js';
import { changeEvent, REQUEST_READERS } from './events.js';
import { inOrg, overwrite, parseLoaded, type Loaded, type WritePlan } from './plan.js';

export function grantStore(redis: Redis, keys: RedisKeys) {
  return {
    async get(orgId: string, grantId: string): Promise<Loaded<GrantRecord> | null> {
      return inOrg(parseLoaded<GrantRecord>(await redis.get(keys.grant(grantId))), orgId);
    },
    /** A policy's grants (the policy is the caller's to scope), each with the raw string a commit names as its precondition. */
    async ofPolicy(policyId: string): Promise<Array<Loaded<GrantRecord>>> {
      const ids = await redis.smembers(keys.policyGrants(policyId));
      if (ids.length === 0) return [];
      const raws = await redis.mget(...ids.map(keys.grant));
      return raws.flatMap((raw) => (raw === null ? [] : [{ value: JSON.parse(raw) as GrantRecord, raw }]));
    },
    /** Whether the grant changed since it was read. */
    async changed(grant: Loaded<GrantRecord>): Promise<boolean> {
      return (await redis.get(keys.grant(grant.value.id))) !== grant.raw;
    },
    create(record: GrantRecord): WritePlan {
      return {
        expect: [{ key: keys.grant(record.id), equals: null }],
        ops: [
          ['set', keys.grant(record.id), JSON.stringify(record)],
          ['sadd', keys.policyGrants(record.policyId), record.id],
        ],
        events: [changeEvent(record.orgId, 'grant', 'created', record.id, record, REQUEST_READERS)],
      };
    },
    update(stored: Loaded<GrantRecord>, updated: GrantRecord): WritePlan {
      return overwrite(keys.grant(updated.id), stored, updated, [changeEvent(updated.orgId, 'grant', 'updated', updated.id, updated, REQUEST_READERS)]);
    },
    /** A removed policy's grants and its set of them. */
    async removeOfPolicy(policyId: string): Promise<WritePlan> {
      const grantIds = await redis.smembers(keys.policyGrants(policyId));
      return { expect: [], ops: [...grantIds.map((id) => ['del', keys.grant(id)] as const), ['del', keys.policyGrants(policyId)]], events: [] };
    },
  };
}

export type GrantStore = ReturnType<typeof grantStore>;
