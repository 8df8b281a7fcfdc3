// Artifact configurations: a record per configuration, the project's set of them and its slug
// index. One configuration per project is the default: the plans that make one the default also
// turn the others' flag off. Reads are scoped to an organization.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { ArtifactConfigRecord } from './records.js';
import { changeEvent, CONFIG_READERS } from './events.js';
import { inOrg, overwrite, parseLoaded, readMany, type Loaded, type WritePlan } from './plan.js';
import { slugClaim } from './slugs.js';

export function artifactConfigStore(redis: Redis, keys: RedisKeys) {
  const ofProject = async (projectId: string): Promise<ArtifactConfigRecord[]> =>
    readMany<ArtifactConfigRecord>(redis, (await redis.smembers(keys.artifactConfigs(projectId))).map(keys.artifactConfig));
  return {
    async get(orgId: string, configId: string): Promise<Loaded<ArtifactConfigRecord> | null> {
      return inOrg(parseLoaded<ArtifactConfigRecord>(await redis.get(keys.artifactConfig(configId))), orgId);
    },
    /** A project's configurations (the project is the caller's to scope). */
    ofProject,
    async slugTaken(projectId: string, slug: string): Promise<boolean> {
      return (await redis.hexists(keys.artifactConfigSlugs(projectId), slug)) === 1;
    },
    create(record: ArtifactConfigRecord): WritePlan {
      const slug = slugClaim(keys.artifactConfigSlugs(record.projectId), record.slug, record.id);
      return {
        expect: slug.expect,
        ops: [['set', keys.artifactConfig(record.id), JSON.stringify(record)], ['sadd', keys.artifactConfigs(record.projectId), record.id], ...slug.ops],
        events: [changeEvent(record.orgId, 'artifactConfig', 'created', record.id, record, CONFIG_READERS)],
      };
    },
    update(stored: Loaded<ArtifactConfigRecord>, updated: ArtifactConfigRecord): WritePlan {
      return overwrite(keys.artifactConfig(updated.id), stored, updated, [changeEvent(updated.orgId, 'artifactConfig', 'updated', updated.id, updated, CONFIG_READERS)]);
    },
    /** What makes `config` its project's only default: the other defaults, no longer. */
    async demoteOthers(config: ArtifactConfigRecord): Promise<WritePlan> {
      const others = (await ofProject(config.projectId)).filter((other) => other.isDefault && other.id !== config.id);
      const demoted = others.map((other) => ({ ...other, isDefault: false, version: other.version + 1 }));
      return {
        expect: [],
        ops: demoted.map((other) => ['set', keys.artifactConfig(other.id), JSON.stringify(other)] as const),
        events: demoted.map((other) => changeEvent(other.orgId, 'artifactConfig', 'updated', other.id, other, CONFIG_READERS)),
      };
    },
    remove(stored: Loaded<ArtifactConfigRecord>): WritePlan {
      const config = stored.value;
      return {
        expect: [{ key: keys.artifactConfig(config.id), equals: stored.raw }],
        ops: [
          ['del', keys.artifactConfig(config.id)],
          ['srem', keys.artifactConfigs(config.projectId), config.id],
          ['hdel', keys.artifactConfigSlugs(config.projectId), config.slug],
        ],
        events: [changeEvent(config.orgId, 'artifactConfig', 'deleted', config.id, undefined, CONFIG_READERS)],
      };
    },
    /** A removed project's configurations (`configs`: as read), with the project's set and slug index. */
    removeWithProject(project: { id: string; orgId: string }, configs: ArtifactConfigRecord[]): WritePlan {
      return {
        expect: [],
        ops: [...configs.map((c) => ['del', keys.artifactConfig(c.id)] as const), ['del', keys.artifactConfigs(project.id)], ['del', keys.artifactConfigSlugs(project.id)]],
        events: configs.map((c) => changeEvent(project.orgId, 'artifactConfig', 'deleted', c.id, undefined, CONFIG_READERS)),
      };
    },
  };
}

