// How the dashboard's pictures are labeled and summed up in words (the charts' text alternative).
import { EXPIRY_BUCKETS, FINISHED_STATUSES, type ApprovalWait, type DashboardStats, type ExpiryBucket } from '$lib/shared/stats';

const dayFormat = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });

/** "Mar 5" for a UTC date (YYYY-MM-DD). */
export function dayLabel(day: string): string {
  return dayFormat.format(new Date(`${day}T00:00:00Z`));
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

export function requestsSummary(stats: DashboardStats): string {
  const totals = FINISHED_STATUSES.map((status) => `${stats.finished[status].reduce((a, b) => a + b, 0)} ${status.toLowerCase()}`);
  return `Requests finished in the last ${plural(stats.days.length, 'day')} (UTC), by final status: ${totals.join(', ')}.`;
}

export interface DurationUnit {
  name: string;
  ms: number;
}

const UNITS: DurationUnit[] = [
  { name: 'minutes', ms: 60_000 },
  { name: 'hours', ms: 3600_000 },
  { name: 'days', ms: 86_400_000 },
];

/** The unit the wait chart's axis uses: the largest in which the longest wait is at least 2. */
export function waitUnit(waits: ApprovalWait[]): DurationUnit {
  const longest = Math.max(0, ...waits.map((wait) => wait.p90Ms));
  return [...UNITS].reverse().find((unit) => longest >= 2 * unit.ms) ?? UNITS[0]!;
}

/** "45 s", "12 min", "3.5 h", "2.1 d". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 2 * 86_400_000) return `${(ms / 3600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

export const policyLabel = (wait: ApprovalWait) => `${wait.projectSlug}/${wait.policySlug}`;

export function waitsSummary(stats: DashboardStats): string {
  const period = `the last ${plural(stats.days.length, 'day')}`;
  if (stats.approvalWaits.length === 0) return `No request was approved or denied in ${period}.`;
  const parts = stats.approvalWaits.map(
    (wait) => `${policyLabel(wait)}: median ${formatDuration(wait.p50Ms)}, 90th percentile ${formatDuration(wait.p90Ms)} (${plural(wait.decisions, 'decision')})`,
  );
  return `Time from submission to the approval or denial, in ${period}: ${parts.join('; ')}.`;
}

export function expirySummary(expiry: Record<ExpiryBucket, number>): string {
  const total = Object.values(expiry).reduce((a, b) => a + b, 0);
  const parts = EXPIRY_BUCKETS.map((bucket) => `${expiry[bucket.key]} ${bucket.key === 'expired' ? 'expired' : `with ${bucket.label.toLowerCase()} left`}`);
  return `${plural(total, 'enabled certificate')} by days to expiry: ${parts.join(', ')}.`;
}
