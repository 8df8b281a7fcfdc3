// The store's per-entity modules, one per kind of record: each reads its records scoped to an
// organization and plans its writes (plan.ts), owning the record's key and every index over it.
// Writers use these and never name a Redis key.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { webhookStore } from './webhooks.js';
import { requestStore } from './requests.js';
import { notificationStore } from './notifications.js';
import { outboxStore } from './outbox.js';
import { rollbackAlarmStore } from './rollbackAlarms.js';
import { projectStore } from './projects.js';
import { artifactConfigStore } from './artifactConfigs.js';
import { grantStore } from './grants.js';
import { policyStore } from './policies.js';
import { certificateStore } from './certificates.js';
import { chatChannelStore } from './chatChannels.js';
import { buildSystemStore } from './buildSystems.js';
import { dashboardStore } from './dashboard.js';
import { actorRecordStore } from './actorRecords.js';
import { rateLimitStore } from './rateLimit.js';
import { commandAttemptStore } from './commandAttempts.js';
import { accountStores } from './accounts.js';

export function openEntityStores(redis: Redis, keys: RedisKeys) {
  const grants = grantStore(redis, keys);
  const requests = requestStore(redis, keys);
  return {
    webhooks: webhookStore(redis, keys),
    requests,
    notifications: notificationStore(redis, keys),
    outbox: outboxStore(keys),
    rollbackAlarms: rollbackAlarmStore(redis, keys),
    projects: projectStore(redis, keys),
    artifactConfigs: artifactConfigStore(redis, keys),
    grants,
    policies: policyStore(redis, keys, grants, requests),
    certificates: certificateStore(redis, keys),
    chatChannels: chatChannelStore(redis, keys),
    buildSystems: buildSystemStore(redis, keys),
    dashboard: dashboardStore(redis, keys),
    actorRecords: actorRecordStore(redis, keys),
    rateLimits: rateLimitStore(redis, keys),
    commandAttempts: commandAttemptStore(redis, keys),
    ...accountStores(redis, keys),
  };
}

export type EntityStores = ReturnType<typeof openEntityStores>;
