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
  RequestRecord,
  ChatChannelRecord,
  GrantRecord,
  MemberRecord,
  OrganizationRecord,
  SessionRecord,
  UserRecord,
} from './records.js';
import { withCertificateDefaults } from './records.js';
import type { Notification, NotificationLevel } from '../../src/lib/shared/entities.js';

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

    async notifications(orgId: string, userId: string, limit: number, unreadOnly: boolean) {
      const unreadIds = new Set(await redis.smembers(keys.notificationUnread(orgId, userId)));
      const ids = unreadOnly
        ? (await redis.zrevrange(keys.notificationOrder(orgId, userId), 0, -1)).filter((id) => unreadIds.has(id)).slice(0, limit)
        : await redis.zrevrange(keys.notificationOrder(orgId, userId), 0, limit - 1);
      const raws = ids.length ? await redis.hmget(keys.notifications(orgId, userId), ...ids) : [];
      const items = raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as Notification);
      return { items, unreadCount: unreadIds.size };
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
    /** The newest completed request of a policy submitted before `beforeMs`. */
    async previousSigned(policyId: string, beforeMs: number) {
      const [id] = await redis.zrevrangebyscore(keys.policySigned(policyId), `(${beforeMs}`, '-inf', 'LIMIT', 0, 1);
      return id ? (parse<RequestRecord>(await redis.get(keys.request(id)))?.value ?? null) : null;
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
    async request(requestId: string) {
      return parse<RequestRecord>(await redis.get(keys.request(requestId)));
    },
    /**
     * Request ids newest first, strictly after the cursor (creation ms, then id: requests created in
     * the same millisecond are ordered by id, so none is skipped or repeated across pages).
     */
    async requestIdsAfter(orgId: string, cursor: { ms: number; id: string } | undefined, offset: number, count: number) {
      const rows = await redis.zrevrangebyscore(keys.requests(orgId), cursor ? cursor.ms : '+inf', '-inf', 'WITHSCORES', 'LIMIT', offset, count);
      const ids: Array<{ id: string; ms: number }> = [];
      for (let i = 0; i < rows.length; i += 2) ids.push({ id: rows[i]!, ms: Number(rows[i + 1]) });
      return {
        scanned: ids.length,
        ids: cursor ? ids.filter(({ id, ms }) => ms < cursor.ms || id < cursor.id) : ids,
      };
    },
    async requestsByIds(ids: string[]) {
      return getMany<RequestRecord>(redis, ids.map(keys.request));
    },
    async waitingRequests(orgId: string) {
      return getMany<RequestRecord>(redis, (await redis.smembers(keys.requestsWaiting(orgId))).map(keys.request));
    },

    async notificationSettings(orgId: string, userId: string) {
      return (await redis.hgetall(keys.notificationSettings(orgId, userId))) as Record<string, NotificationLevel>;
    },
    /** The members of an organization who turned email notifications off. */
    async emailOff(orgId: string) {
      return new Set(await redis.smembers(keys.notificationEmailOff(orgId)));
    },
  };
}

export type Repositories = ReturnType<typeof createRepositories>;
