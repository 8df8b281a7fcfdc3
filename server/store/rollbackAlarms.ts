// The marker of an organization's audit rollback alarm (audit/rollbackWatch.ts): the remembered
// checkpoint the alarm was last raised for, so that of all nodes noticing one rollback, one tells
// the audit viewers.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { WritePlan } from './plan.js';

export function rollbackAlarmStore(redis: Redis, keys: RedisKeys) {
  return {
    /** The checkpoint (`size:hash`) the organization's alarm was last raised for. */
    async last(orgId: string): Promise<string | null> {
      return redis.get(keys.auditRollbackAlarm(orgId));
    },
    /** Raises the alarm for `checkpoint`, unless another node raised one since `last` was read. */
    raise(orgId: string, last: string | null, checkpoint: string): WritePlan {
      const marker = keys.auditRollbackAlarm(orgId);
      return { expect: [{ key: marker, equals: last }], ops: [['set', marker, checkpoint]], events: [] };
    },
  };
}

