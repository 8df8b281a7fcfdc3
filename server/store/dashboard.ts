// The dashboard's reads over the indexes every request change keeps (dashboardIndexes.ts): counts
// per day and status, and the recent waits for approval. Scoped to an organization by their keys.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export function dashboardStore(redis: Redis, keys: RedisKeys) {
  return {
    /** How many requests reached each status on each day (`days`: each day's start, ms), one pipeline. */
    async finishedPerDay<S extends string>(orgId: string, statuses: readonly S[], days: Array<{ startMs: number; endMs: number }>): Promise<Record<S, number[]>> {
      const counting = redis.pipeline();
      for (const status of statuses) {
        for (const { startMs, endMs } of days) counting.zcount(keys.requestsFinished(orgId, status), startMs, `(${endMs}`);
      }
      const counted = await counting.exec();
      const finished = {} as Record<S, number[]>;
      statuses.forEach((status, s) => {
        finished[status] = days.map((_, d) => {
          const [error, count] = counted![s * days.length + d]!;
          if (error) throw error;
          return Number(count);
        });
      });
      return finished;
    },
    /** The newest approval waits decided since `fromMs`, at most `limit` (members `policyId:waitMs:requestId`). */
    async approvalWaits(orgId: string, fromMs: number, limit: number): Promise<string[]> {
      return redis.zrevrangebyscore(keys.approvalWaits(orgId), '+inf', fromMs, 'LIMIT', 0, limit);
    },
  };
}

