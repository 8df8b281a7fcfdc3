// What the signing lifecycle asks of the job queue once a change has committed (queue.ts runs it).
import type { RequestRecord } from '../store/records.js';

export interface SigningJobs {
  enqueueSigning(request: RequestRecord): Promise<void>;
  scheduleExpiry(request: RequestRecord): Promise<void>;
}
