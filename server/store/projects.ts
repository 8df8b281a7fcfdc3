// Projects: a record per project, the organization's set of them and its slug index. Reads are
// scoped to an organization; the plans keep the set and the slug index in step with the records.
// What configures a project (artifact configurations, policies, webhooks, chat channels) is its
// own module's; a project's removal combines their plans (commands/projects.ts).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { ProjectRecord } from './records.js';
import { changeEvent, CONFIG_READERS } from './events.js';
import { inOrg, parseLoaded, readMany, type Loaded, type WritePlan } from './plan.js';
import { slugChange, slugClaim } from './slugs.js';

export function projectStore(redis: Redis, keys: RedisKeys) {
  return {
    async get(orgId: string, projectId: string): Promise<Loaded<ProjectRecord> | null> {
      return inOrg(parseLoaded<ProjectRecord>(await redis.get(keys.project(projectId))), orgId);
    },
    async list(orgId: string): Promise<ProjectRecord[]> {
      return readMany<ProjectRecord>(redis, (await redis.smembers(keys.projects(orgId))).map(keys.project));
    },
    /** The organization's projects of these ids that exist (deleted ones are left out). */
    async ofIds(orgId: string, projectIds: string[]): Promise<ProjectRecord[]> {
      return (await readMany<ProjectRecord>(redis, projectIds.map(keys.project))).filter((project) => project.orgId === orgId);
    },
    /** The organization's project of this slug, as the REST API and the demo name it. */
    async bySlug(orgId: string, slug: string): Promise<Loaded<ProjectRecord> | null> {
      const id = await redis.hget(keys.projectSlugs(orgId), slug);
      return id ? inOrg(parseLoaded<ProjectRecord>(await redis.get(keys.project(id))), orgId) : null;
    },
    async slugTaken(orgId: string, slug: string): Promise<boolean> {
      return (await redis.hexists(keys.projectSlugs(orgId), slug)) === 1;
    },
    create(record: ProjectRecord): WritePlan {
      const slug = slugClaim(keys.projectSlugs(record.orgId), record.slug, record.id);
      return {
        expect: slug.expect,
        ops: [['set', keys.project(record.id), JSON.stringify(record)], ['sadd', keys.projects(record.orgId), record.id], ...slug.ops],
        events: [changeEvent(record.orgId, 'project', 'created', record.id, record, CONFIG_READERS)],
      };
    },
    update(stored: Loaded<ProjectRecord>, updated: ProjectRecord): WritePlan {
      const slug = slugChange(keys.projectSlugs(updated.orgId), updated.id, stored.value.slug, updated.slug);
      return {
        expect: [{ key: keys.project(updated.id), equals: stored.raw }, ...slug.expect],
        ops: [['set', keys.project(updated.id), JSON.stringify(updated)], ...slug.ops],
        events: [changeEvent(updated.orgId, 'project', 'updated', updated.id, updated, CONFIG_READERS)],
      };
    },
    /** The project's own record and indexes; what configures it goes with it through its modules' plans. */
    remove(stored: Loaded<ProjectRecord>): WritePlan {
      const project = stored.value;
      return {
        expect: [{ key: keys.project(project.id), equals: stored.raw }],
        ops: [
          ['del', keys.project(project.id)],
          ['srem', keys.projects(project.orgId), project.id],
          ['hdel', keys.projectSlugs(project.orgId), project.slug],
        ],
        events: [changeEvent(project.orgId, 'project', 'deleted', project.id, undefined, CONFIG_READERS)],
      };
    },
  };
}

