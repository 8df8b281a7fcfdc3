// The dashboard's numbers, read from the indexes every request change keeps in its own commit
// (server/store/dashboardIndexes.ts), so a read never scans requests: it counts per day in sorted
// sets and reads at most MAX_WAIT_SAMPLES recent waits.
import type { EntityStores } from '../store/entities.js';
import {
  DAY_MS,
  EXPIRY_BUCKETS,
  FINISHED_STATUSES,
  expiryBucket,
  percentile,
  periodDays,
  type ApprovalWait,
  type DashboardStats,
  type ExpiryBucket,
  type FinishedStatus,
} from '../../src/lib/shared/stats.js';

/** The most approval waits one read takes into account (the newest of the period). */
const MAX_WAIT_SAMPLES = 5000;

export async function readDashboardStats(
  store: EntityStores,
  orgId: string,
  options: { days: number; withCertificates: boolean; now?: number },
): Promise<DashboardStats> {
  const now = options.now ?? Date.now();
  const period = periodDays(now, options.days);
  const from = period[0]!.startMs;

  const [finished, waits, certificates] = await Promise.all([
    store.dashboard.finishedPerDay<FinishedStatus>(orgId, FINISHED_STATUSES, period.map(({ startMs }) => ({ startMs, endMs: startMs + DAY_MS }))),
    store.dashboard.approvalWaits(orgId, from, MAX_WAIT_SAMPLES),
    options.withCertificates ? store.certificates.list(orgId) : Promise.resolve(null),
  ]);

  let certificateExpiry: DashboardStats['certificateExpiry'] = null;
  if (certificates) {
    certificateExpiry = Object.fromEntries(EXPIRY_BUCKETS.map((bucket) => [bucket.key, 0])) as Record<ExpiryBucket, number>;
    for (const certificate of certificates) {
      if (certificate.disabled || certificate.notAfter === null) continue;
      certificateExpiry[expiryBucket(Date.parse(certificate.notAfter), now)] += 1;
    }
  }

  return {
    days: period.map(({ day }) => day),
    finished,
    approvalWaits: await approvalWaitsByPolicy(store, orgId, waits),
    certificateExpiry,
    generatedAt: new Date(now).toISOString(),
  };
}

/** p50 and p90 of the waits of each policy that still exists, slowest p90 first. */
async function approvalWaitsByPolicy(store: EntityStores, orgId: string, members: string[]): Promise<ApprovalWait[]> {
  const byPolicy = new Map<string, number[]>();
  for (const member of members) {
    const [policyId, waitMs] = member.split(':');
    const wait = Number(waitMs);
    if (!policyId || !Number.isFinite(wait)) continue;
    const list = byPolicy.get(policyId) ?? [];
    list.push(wait);
    byPolicy.set(policyId, list);
  }
  if (byPolicy.size === 0) return [];
  const policies = await store.policies.ofIds(orgId, [...byPolicy.keys()]);
  const projects = new Map((await store.projects.ofIds(orgId, [...new Set(policies.map((policy) => policy.projectId))])).map((project) => [project.id, project]));
  const result: ApprovalWait[] = [];
  for (const policy of policies) {
    // Deleted policies (and the policies of deleted projects) are history the chart leaves out.
    const project = projects.get(policy.projectId);
    if (!project) continue;
    const waits = byPolicy.get(policy.id)!.sort((a, b) => a - b);
    result.push({
      policyId: policy.id,
      projectSlug: project.slug,
      policySlug: policy.slug,
      policyName: policy.name,
      decisions: waits.length,
      p50Ms: percentile(waits, 50),
      p90Ms: percentile(waits, 90),
    });
  }
  return result.sort((a, b) => b.p90Ms - a.p90Ms || a.projectSlug.localeCompare(b.projectSlug) || a.policySlug.localeCompare(b.policySlug));
}
