// Thin reads over Redis: fetch and parse, no application logic. Each read also returns the raw
// stored string, which a later commit names as its precondition (optimistic concurrency).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type {
  ApiKeyRecord,
  ArtifactConfigRecord,
  BuildSystemRecord,
  CertificateRecord,
  PolicyRecord,
  ProjectRecord,
  ChatChannelRecord,
  GrantRecord,
  InvitationRecord,
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
    async orgs() {
      return getMany<OrganizationRecord>(redis, (await redis.smembers(keys.orgIds)).map(keys.org));
    },

    async user(userId: string) {
      return parse<UserRecord>(await redis.get(keys.user(userId)));
    },
    async userIdByEmail(email: string) {
      return redis.hget(keys.usersByEmail, email.toLowerCase());
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

    async invitation(inviteId: string) {
      return parse<InvitationRecord>(await redis.get(keys.invite(inviteId)));
    },
    async invitationIdByToken(tokenHash: string) {
      return redis.get(keys.inviteToken(tokenHash));
    },
    async invitations(orgId: string) {
      const ids = await redis.smembers(keys.orgInvites(orgId));
      if (ids.length === 0) return [];
      const raws = await redis.mget(...ids.map(keys.invite));
      // Invitations expire by themselves (key TTL); their ids are dropped from the set here.
      const expired = ids.filter((_, i) => raws[i] === null);
      if (expired.length) await redis.srem(keys.orgInvites(orgId), ...expired);
      return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as InvitationRecord);
    },

    async apiKey(keyId: string) {
      return parse<ApiKeyRecord>(await redis.get(keys.apiKey(keyId)));
    },
    async apiKeys(orgId: string) {
      const ids = await redis.smembers(keys.orgApiKeys(orgId));
      const records = await getMany<ApiKeyRecord>(redis, ids.map(keys.apiKey));
      const lastUsed = records.length ? await redis.mget(...records.map((r) => keys.apiKeyLastUsed(r.id))) : [];
      return records.map((record, i) => ({ record, lastUsedAt: lastUsed[i] ?? null }));
    },

    async session(sessionHash: string) {
      return parse<SessionRecord>(await redis.get(keys.session(sessionHash)));
    },

    async project(projectId: string) {
      return parse<ProjectRecord>(await redis.get(keys.project(projectId)));
    },
    async projectIdBySlug(orgId: string, slug: string) {
      return redis.hget(keys.projectSlugs(orgId), slug);
    },
    async projects(orgId: string) {
      return getMany<ProjectRecord>(redis, (await redis.smembers(keys.projects(orgId))).map(keys.project));
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
    /** The policies of these ids that exist (deleted ones are left out). */
    async policiesByIds(policyIds: string[]) {
      return getMany<PolicyRecord>(redis, policyIds.map(keys.policy));
    },
    async projectsByIds(projectIds: string[]) {
      return getMany<ProjectRecord>(redis, projectIds.map(keys.project));
    },
    async policies(projectId: string) {
      return getMany<PolicyRecord>(redis, (await redis.smembers(keys.policies(projectId))).map(keys.policy));
    },
    async grant(grantId: string) {
      return parse<GrantRecord>(await redis.get(keys.grant(grantId)));
    },
    /** A policy's grants, each with the raw string a commit names as its precondition. */
    async grants(policyId: string): Promise<Array<Loaded<GrantRecord>>> {
      const ids = await redis.smembers(keys.policyGrants(policyId));
      if (ids.length === 0) return [];
      const raws = await redis.mget(...ids.map(keys.grant));
      return raws.flatMap((raw) => (raw === null ? [] : [{ value: JSON.parse(raw) as GrantRecord, raw }]));
    },
    async certificate(certificateId: string) {
      const loaded = parse<CertificateRecord>(await redis.get(keys.certificate(certificateId)));
      return loaded && { ...loaded, value: withCertificateDefaults(loaded.value) };
    },
    async certificates(orgId: string) {
      return (await getMany<CertificateRecord>(redis, (await redis.smembers(keys.certificates(orgId))).map(keys.certificate))).map(withCertificateDefaults);
    },
    async buildSystems(orgId: string) {
      return getMany<BuildSystemRecord>(redis, (await redis.smembers(keys.buildSystems(orgId))).map(keys.buildSystem));
    },
    async buildSystem(buildSystemId: string) {
      return parse<BuildSystemRecord>(await redis.get(keys.buildSystem(buildSystemId)));
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
