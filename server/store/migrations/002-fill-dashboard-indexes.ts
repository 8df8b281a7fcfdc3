// Version 2. The dashboard counts finished requests per day and measures approval waits from two
// indexes that every request change keeps since this version (keys.requestsFinished,
// keys.approvalWaits; server/store/dashboardIndexes.ts). This fills them from the requests already
// stored, so the pictures show what happened before the upgrade. It only adds to sorted sets, one
// member per request, so running it again changes nothing. Nodes of the previous version can keep
// running while it applies; the requests they finish or decide until they are replaced are not counted.
import type { RequestRecord } from '../records.js';
import { approvalWait } from '../dashboardIndexes.js';
import type { Migration } from './migration.js';

const PAGE = 500;

export const fillDashboardIndexes: Migration = {
  version: 2,
  name: 'fill the dashboard indexes (finished requests by status, approval waits) from the stored requests',
  async up({ redis, keys }) {
    let added = 0;
    for (const orgId of await redis.smembers(keys.orgIds)) {
      for (let start = 0; ; start += PAGE) {
        const ids = await redis.zrange(keys.requests(orgId), String(start), String(start + PAGE - 1));
        if (ids.length === 0) break;
        const writes = redis.pipeline();
        for (const raw of await redis.mget(...ids.map(keys.request))) {
          if (raw === null) continue;
          const request = JSON.parse(raw) as RequestRecord;
          if (request.isFinalStatus && request.finishedAt) {
            writes.zadd(keys.requestsFinished(orgId, request.status), Date.parse(request.finishedAt), request.id);
          }
          const wait = approvalWait(request);
          if (wait) writes.zadd(keys.approvalWaits(orgId), wait.decidedAt, wait.member);
        }
        for (const [error, count] of (await writes.exec()) ?? []) {
          if (error) throw error;
          added += Number(count);
        }
      }
    }
    return added;
  },
};
