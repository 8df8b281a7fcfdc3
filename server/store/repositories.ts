// Thin reads over Redis: fetch and parse, no application logic. Each read also returns the raw
// stored string, which a later commit names as its precondition (optimistic concurrency).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type {
  ArtifactConfigRecord,
  BuildSystemRecord,
  CertificateRecord,
  PolicyRecord,
  ProjectRecord,
  ChatChannelRecord,
  MemberRecord,
  OrganizationRecord,
  SessionRecord,
  UserRecord,
} from './records.js';
import { withCertificateDefaults } from './records.js';

export interface Loaded<T> {
  value: T;
  raw: string;
}

function parse<T>(raw: string | null): Loaded<T> | null {
  return raw === null ? null : { value: JSON.parse(raw) as T, raw };
}

async function getMany<T>(redis: Redis, keys: string[]): Promise<T[]> {
  if (keys.length === 0) return [];
  const raws = await redis.mget(...keys);
  return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as T);
}

export function createRepositories(redis: Redis, keys: RedisKeys) {
  return {
    redis,
    keys,

    async org(orgId: string) {
      return parse<OrganizationRecord>(await redis.get(keys.org(orgId)));
    },
    async orgIdBySlug(slug: string) {
      return redis.hget(keys.orgSlugs, slug);
    },
    async user(userId: string) {
      return parse<UserRecord>(await redis.get(keys.user(userId)));
    },
    async userOrgIds(userId: string) {
      return redis.smembers(keys.userOrgs(userId));
    },

    async member(orgId: string, userId: string) {
      return parse<MemberRecord>(await redis.get(keys.member(orgId, userId)));
    },
    async members(orgId: string) {
      const ids = await redis.smembers(keys.orgMembers(orgId));
      return getMany<MemberRecord>(redis, ids.map((id) => keys.member(orgId, id)));
    },

    async session(sessionHash: string) {
      return parse<SessionRecord>(await redis.get(keys.session(sessionHash)));
    },

    // Catalog reads by id alone, left for the signing pipeline, outreach, the REST APIs and the demo
    // seeding; commands read the catalog through its store modules, scoped to an organization
    // (store/projects.ts, policies.ts, certificates.ts, …), and these callers can move there too.
    async project(projectId: string) {
      return parse<ProjectRecord>(await redis.get(keys.project(projectId)));
    },
    async projectIdBySlug(orgId: string, slug: string) {
      return redis.hget(keys.projectSlugs(orgId), slug);
    },
    async artifactConfig(configId: string) {
      return parse<ArtifactConfigRecord>(await redis.get(keys.artifactConfig(configId)));
    },
    async artifactConfigs(projectId: string) {
      return getMany<ArtifactConfigRecord>(redis, (await redis.smembers(keys.artifactConfigs(projectId))).map(keys.artifactConfig));
    },
    async policy(policyId: string) {
      return parse<PolicyRecord>(await redis.get(keys.policy(policyId)));
    },
    async certificate(certificateId: string) {
      const loaded = parse<CertificateRecord>(await redis.get(keys.certificate(certificateId)));
      return loaded && { ...loaded, value: withCertificateDefaults(loaded.value) };
    },
    async buildSystems(orgId: string) {
      return getMany<BuildSystemRecord>(redis, (await redis.smembers(keys.buildSystems(orgId))).map(keys.buildSystem));
    },
    async chatChannel(chatChannelId: string) {
      return parse<ChatChannelRecord>(await redis.get(keys.chatChannel(chatChannelId)));
    },
    async chatChannels(projectId: string) {
      return getMany<ChatChannelRecord>(redis, (await redis.smembers(keys.chatChannels(projectId))).map(keys.chatChannel));
    },
  };
}

export type Repositories = ReturnType<typeof createRepositories>;
