// What the signing lifecycle asks of the job queue once a change has committed (queue.ts runs it).
import type { RequestRecord } from '../store/records.js';

export interface SigningJobs {
  enqueueSigning(request: RequestRecord): Promise<void>;
  scheduleExpiry(request: RequestRecord): Promise<void>;
  /** The nudge and the escalation of a waiting request whose policy escalates (see escalation.ts). */
  scheduleEscalation(request: RequestRecord): Promise<void>;
}
