// The dashboard's pictures (requests over time, approval waits, certificates by expiry): what the
// server's `dashboard.stats` returns and how both sides bucket and summarize, defined once.
import { z } from 'zod';
import type { RequestStatus } from './signing.js';

export const DAY_MS = 86_400_000;

/** The final statuses, in the order the chart stacks them. */
export const FINISHED_STATUSES = ['Completed', 'Failed', 'Denied', 'Canceled'] as const satisfies readonly RequestStatus[];
export type FinishedStatus = (typeof FINISHED_STATUSES)[number];

/** Periods the dashboard offers (days, ending today, UTC). */
export const STATS_PERIODS = [14, 30] as const;
export const MAX_STATS_DAYS = 90;

/** Certificates by days to expiry: each bucket holds those with fewer days left than its bound. */
export const EXPIRY_BUCKETS = [
  { key: 'expired', label: 'Expired', belowDays: 0 },
  { key: 'within7', label: 'Under 7 days', belowDays: 7 },
  { key: 'within30', label: '7–29 days', belowDays: 30 },
  { key: 'within90', label: '30–89 days', belowDays: 90 },
  { key: 'later', label: '90 days or more', belowDays: Infinity },
] as const;
export type ExpiryBucket = (typeof EXPIRY_BUCKETS)[number]['key'];

export const ApprovalWait = z.object({
  policyId: z.string(),
  projectSlug: z.string(),
  policySlug: z.string(),
  policyName: z.string(),
  decisions: z.number().int().describe('how many requests were approved or denied in the period (each one wait)'),
  p50Ms: z.number(),
  p90Ms: z.number(),
});
export type ApprovalWait = z.infer<typeof ApprovalWait>;

const EXPIRY_BUCKET_KEYS = EXPIRY_BUCKETS.map((bucket) => bucket.key) as [ExpiryBucket, ...ExpiryBucket[]];

export const DashboardStats = z.object({
  days: z.array(z.string()).describe('the days of the period, oldest first, as UTC dates (YYYY-MM-DD)'),
  finished: z.record(z.enum(FINISHED_STATUSES), z.array(z.number().int())).describe('per final status, how many requests reached it on each of `days`'),
  approvalWaits: z
    .array(ApprovalWait)
    .describe('per signing policy with a decision in the period: time from waiting for approval to the decision that ended it'),
  certificateExpiry: z
    .record(z.enum(EXPIRY_BUCKET_KEYS), z.number().int())
    .nullable()
    .describe('enabled certificates (with a certificate issued) by days to expiry; null without config:read'),
  generatedAt: z.string(),
});
export type DashboardStats = z.infer<typeof DashboardStats>;

/** The bucket of a certificate expiring at `notAfterMs`, seen at `nowMs`. */
export function expiryBucket(notAfterMs: number, nowMs: number): ExpiryBucket {
  const daysLeft = (notAfterMs - nowMs) / DAY_MS;
  return EXPIRY_BUCKETS.find((bucket) => daysLeft < bucket.belowDays)!.key;
}

/** The nearest-rank percentile (0 < p ≤ 100) of values sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values');
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The UTC date (YYYY-MM-DD) of a time. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The `count` UTC days ending with the day of `nowMs`, oldest first, each with its start. */
export function periodDays(nowMs: number, count: number): Array<{ day: string; startMs: number }> {
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  return Array.from({ length: count }, (_, i) => {
    const startMs = today - (count - 1 - i) * DAY_MS;
    return { day: utcDay(startMs), startMs };
  });
}
