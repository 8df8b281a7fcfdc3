// Webhooks: a record per webhook and the set of a project's webhooks. Reads are scoped to an
// organization; the plans keep the project's set in step with the records.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { toWebhook, type WebhookRecord } from './records.js';
import { changeEvent, CONFIG_READERS } from './events.js';
import { inOrg, overwrite, parseLoaded, type Loaded, type WritePlan } from './plan.js';

export function webhookStore(redis: Redis, keys: RedisKeys) {
  return {
    async get(orgId: string, webhookId: string): Promise<Loaded<WebhookRecord> | null> {
      return inOrg(parseLoaded<WebhookRecord>(await redis.get(keys.webhook(webhookId))), orgId);
    },
    /** A project's webhooks (the project is the caller's to scope). */
    async ofProject(projectId: string): Promise<WebhookRecord[]> {
      const ids = await redis.smembers(keys.webhooks(projectId));
      if (ids.length === 0) return [];
      const raws = await redis.mget(...ids.map(keys.webhook));
      return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as WebhookRecord);
    },
    create(record: WebhookRecord): WritePlan {
      return {
        expect: [{ key: keys.webhook(record.id), equals: null }],
        ops: [
          ['set', keys.webhook(record.id), JSON.stringify(record)],
          ['sadd', keys.webhooks(record.projectId), record.id],
        ],
        events: [changeEvent(record.orgId, 'webhook', 'created', record.id, toWebhook(record), CONFIG_READERS)],
      };
    },
    update(stored: Loaded<WebhookRecord>, updated: WebhookRecord): WritePlan {
      return overwrite(keys.webhook(updated.id), stored, updated, [changeEvent(updated.orgId, 'webhook', 'updated', updated.id, toWebhook(updated), CONFIG_READERS)]);
    },
    /** `stored`: as read, the commit refuses if it changed meanwhile; null for a removal that goes with its project's (no precondition). */
    remove(stored: Loaded<WebhookRecord> | WebhookRecord): WritePlan {
      const record = 'raw' in stored ? stored.value : stored;
      return {
        expect: 'raw' in stored ? [{ key: keys.webhook(record.id), equals: stored.raw }] : [],
        ops: [
          ['del', keys.webhook(record.id)],
          ['srem', keys.webhooks(record.projectId), record.id],
        ],
        events: [changeEvent(record.orgId, 'webhook', 'deleted', record.id, undefined, CONFIG_READERS)],
      };
    },
  };
}

