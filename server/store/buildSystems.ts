// Build systems trusted to vouch for a submission's origin: a record per build system and the
// organization's set of them. Reads are scoped to an organization.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { BuildSystemRecord } from './records.js';
import { changeEvent, CONFIG_READERS } from './events.js';
import { inOrg, parseLoaded, readMany, type Loaded, type WritePlan } from './plan.js';

export function buildSystemStore(redis: Redis, keys: RedisKeys) {
  return {
    async get(orgId: string, buildSystemId: string): Promise<Loaded<BuildSystemRecord> | null> {
      return inOrg(parseLoaded<BuildSystemRecord>(await redis.get(keys.buildSystem(buildSystemId))), orgId);
    },
    async list(orgId: string): Promise<BuildSystemRecord[]> {
      return readMany<BuildSystemRecord>(redis, (await redis.smembers(keys.buildSystems(orgId))).map(keys.buildSystem));
    },
    create(record: BuildSystemRecord): WritePlan {
      return {
        expect: [],
        ops: [
          ['set', keys.buildSystem(record.id), JSON.stringify(record)],
          ['sadd', keys.buildSystems(record.orgId), record.id],
        ],
        events: [changeEvent(record.orgId, 'buildSystem', 'created', record.id, record, CONFIG_READERS)],
      };
    },
    remove(stored: Loaded<BuildSystemRecord>): WritePlan {
      const buildSystem = stored.value;
      return {
        expect: [{ key: keys.buildSystem(buildSystem.id), equals: stored.raw }],
        ops: [
          ['del', keys.buildSystem(buildSystem.id)],
          ['srem', keys.buildSystems(buildSystem.orgId), buildSystem.id],
        ],
        events: [changeEvent(buildSystem.orgId, 'buildSystem', 'deleted', buildSystem.id, undefined, CONFIG_READERS)],
      };
    },
  };
}

