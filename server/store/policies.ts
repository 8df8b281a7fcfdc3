// Signing policies: a record per policy, the project's set of them and its slug index. A removed
// policy takes its grants (through their module) and its index of signed requests with it. Reads
// are scoped to an organization.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { PolicyRecord } from './records.js';
import type { GrantStore } from './grants.js';
import type { RequestStore } from './requests.js';
import { changeEvent, CONFIG_READERS } from './events.js';
import { combinePlans, inOrg, parseLoaded, readMany, type Loaded, type WritePlan } from './plan.js';
import { slugChange, slugClaim } from './slugs.js';

export function policyStore(redis: Redis, keys: RedisKeys, grants: GrantStore, requests: RequestStore) {
  /** What goes with a removed policy besides its record: its windows and its index of signed requests. */
  const remnants = async (policyId: string): Promise<WritePlan> =>
    combinePlans(await grants.removeOfPolicy(policyId), requests.forgetPolicy(policyId));
  return {
    async get(orgId: string, policyId: string): Promise<Loaded<PolicyRecord> | null> {
      return inOrg(parseLoaded<PolicyRecord>(await redis.get(keys.policy(policyId))), orgId);
    },
    /** A project's policies (the project is the caller's to scope). */
    async ofProject(projectId: string): Promise<PolicyRecord[]> {
      return readMany<PolicyRecord>(redis, (await redis.smembers(keys.policies(projectId))).map(keys.policy));
    },
    /** The organization's policies of these ids that exist (deleted ones are left out). */
    async ofIds(orgId: string, policyIds: string[]): Promise<PolicyRecord[]> {
      return (await readMany<PolicyRecord>(redis, policyIds.map(keys.policy))).filter((policy) => policy.orgId === orgId);
    },
    /** The policy of this slug in one of the organization's projects. */
    async bySlug(orgId: string, projectId: string, slug: string): Promise<Loaded<PolicyRecord> | null> {
      const id = await redis.hget(keys.policySlugs(projectId), slug);
      return id ? inOrg(parseLoaded<PolicyRecord>(await redis.get(keys.policy(id))), orgId) : null;
    },
    async slugTaken(projectId: string, slug: string): Promise<boolean> {
      return (await redis.hexists(keys.policySlugs(projectId), slug)) === 1;
    },
    create(record: PolicyRecord): WritePlan {
      const slug = slugClaim(keys.policySlugs(record.projectId), record.slug, record.id);
      return {
        expect: slug.expect,
        ops: [['set', keys.policy(record.id), JSON.stringify(record)], ['sadd', keys.policies(record.projectId), record.id], ...slug.ops],
        events: [changeEvent(record.orgId, 'policy', 'created', record.id, record, CONFIG_READERS)],
      };
    },
    update(stored: Loaded<PolicyRecord>, updated: PolicyRecord): WritePlan {
      const slug = slugChange(keys.policySlugs(updated.projectId), updated.id, stored.value.slug, updated.slug);
      return {
        expect: [{ key: keys.policy(updated.id), equals: stored.raw }, ...slug.expect],
        ops: [['set', keys.policy(updated.id), JSON.stringify(updated)], ...slug.ops],
        events: [changeEvent(updated.orgId, 'policy', 'updated', updated.id, updated, CONFIG_READERS)],
      };
    },
    /** Nothing written: the change it goes with commits only while the policy is as read. */
    unchanged(stored: Loaded<PolicyRecord>): WritePlan {
      return { expect: [{ key: keys.policy(stored.value.id), equals: stored.raw }], ops: [], events: [] };
    },
    async remove(stored: Loaded<PolicyRecord>): Promise<WritePlan> {
      const policy = stored.value;
      return combinePlans(
        {
          expect: [{ key: keys.policy(policy.id), equals: stored.raw }],
          ops: [
            ['del', keys.policy(policy.id)],
            ['srem', keys.policies(policy.projectId), policy.id],
            ['hdel', keys.policySlugs(policy.projectId), policy.slug],
          ],
          events: [changeEvent(policy.orgId, 'policy', 'deleted', policy.id, undefined, CONFIG_READERS)],
        },
        await remnants(policy.id),
      );
    },
    /** A removed project's policies (`policies`: as read) with their remnants, the project's set and slug index. */
    async removeWithProject(project: { id: string; orgId: string }, policies: PolicyRecord[]): Promise<WritePlan> {
      return combinePlans(
        {
          expect: [],
          ops: [...policies.map((p) => ['del', keys.policy(p.id)] as const), ['del', keys.policies(project.id)], ['del', keys.policySlugs(project.id)]],
          events: policies.map((p) => changeEvent(project.orgId, 'policy', 'deleted', p.id, undefined, CONFIG_READERS)),
        },
        ...(await Promise.all(policies.map((p) => remnants(p.id)))),
      );
    },
  };
}

