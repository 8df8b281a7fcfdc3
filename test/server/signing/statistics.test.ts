// dashboard.stats: requests per day by final status, approval waits (p50/p90) per policy and
// certificates by days to expiry, from indexes every request change keeps in its own commit.
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Certificate } from '../../../src/lib/shared/entities.js';
import type { DashboardStats } from '../../../src/lib/shared/stats.js';
import { DAY_MS, expiryBucket, percentile } from '../../../src/lib/shared/stats.js';
import { command, restCommand, testConfig, type ClientSocket } from '../../helpers/signet.js';
import { createPolicy, createProject, generateCertificate, ok, randomArtifact, submitOk, waitForStatus } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

const fx = useSignet({
  config: () => {
    const artifactDir: string = fx.tempDir('signet-stats-');
    return testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_RATE_LIMIT_PER_MINUTE: '100000' });
  },
});
const { who } = fx;
let heldPolicyId: string;
let memberToken: string;
/** Upper bounds of the two waits that ended in a decision (submission to decision, as the test saw it). */
const waitBounds: number[] = [];

const stats = (socket: ClientSocket, days = 14) => ok<DashboardStats>(command(socket, 'dashboard.stats', { days }));
const today = (series: number[]) => series.at(-1);

beforeAll(async () => {
  const project = await createProject(who.owner.socket, 'charted');
  const certificate = await generateCertificate(who.owner.socket, 'charted-cert');
  await createPolicy(who.owner.socket, { projectId: project.id, slug: 'automatic', certificateId: certificate.id, submitters: [who.member.userId] });
  heldPolicyId = (
    await createPolicy(who.owner.socket, {
      projectId: project.id,
      slug: 'held',
      certificateId: certificate.id,
      submitters: [who.member.userId],
      approvers: [who.admin.userId],
      requiredApprovals: 1,
    })
  ).id;
  memberToken = (await ok(command(who.member.socket, 'apiKey.create', { name: 'ci', permissions: ['signing:submit', 'signing:read'] }))).token;
  const submit = (policy: string) => submitOk(fx.node, fx.org.slug, memberToken, { projectSlug: 'charted', signingPolicySlug: policy, artifact: randomArtifact(256), fileName: 'app.bin' });

  // Completed without approval; approved, then completed; denied; canceled while waiting.
  const automatic = await submit('automatic');
  let started = Date.now();
  const approved = await submit('held');
  await ok(command(who.admin.socket, 'request.approve', { requestId: approved.id, comment: 'fine' }));
  waitBounds.push(Date.now() - started);
  started = Date.now();
  const denied = await submit('held');
  await ok(command(who.admin.socket, 'request.deny', { requestId: denied.id, comment: 'not this one' }));
  waitBounds.push(Date.now() - started);
  const canceled = await submit('held');
  await ok(command(who.member.socket, 'request.cancel', { requestId: canceled.id }));
  await Promise.all([waitForStatus(who.owner.socket, automatic.id, 'Completed', { ask: true }), waitForStatus(who.owner.socket, approved.id, 'Completed', { ask: true })]);
});

describe('dashboard.stats', () => {
  it('counts the requests that reached each final status today', async () => {
    const result = await stats(who.viewer.socket);
    expect(result.days).toHaveLength(14);
    expect(result.days.at(-1)).toBe(new Date().toISOString().slice(0, 10));
    expect(today(result.finished.Completed)).toBe(2);
    expect(today(result.finished.Denied)).toBe(1);
    expect(today(result.finished.Canceled)).toBe(1);
    expect(today(result.finished.Failed)).toBe(0);
    for (const series of Object.values(result.finished)) expect(series.slice(0, -1).every((count) => count === 0)).toBe(true);
  });

  it('puts a request on the day it finished, and leaves days outside the period out', async () => {
    // A request that failed three days ago (its index entry, as the commit would have written it).
    const { redis, keys } = fx.node.signet;
    await redis.zadd(keys.requestsFinished(fx.org.orgId, 'Failed'), Date.now() - 3 * DAY_MS, 'sr_threeDaysAgo');
    const fortnight = await stats(who.viewer.socket);
    expect(fortnight.finished.Failed.at(-4)).toBe(1);
    expect(fortnight.finished.Failed.reduce((a, b) => a + b)).toBe(1);
    const todayOnly = await stats(who.viewer.socket, 1);
    expect(todayOnly.days).toHaveLength(1);
    expect(todayOnly.finished.Failed).toEqual([0]);
    await redis.zrem(keys.requestsFinished(fx.org.orgId, 'Failed'), 'sr_threeDaysAgo');
  });

  it('measures the wait from submission to the approval or denial that ended it, per policy', async () => {
    const { approvalWaits } = await stats(who.member.socket);
    // The policy without approvals never waits; a cancelation is no decision.
    expect(approvalWaits).toEqual([
      expect.objectContaining({ policyId: heldPolicyId, projectSlug: 'charted', policySlug: 'held', policyName: 'Policy held', decisions: 2 }),
    ]);
    const [held] = approvalWaits;
    expect(held!.p50Ms).toBeGreaterThanOrEqual(0);
    expect(held!.p50Ms).toBeLessThanOrEqual(held!.p90Ms);
    expect(held!.p90Ms).toBeLessThanOrEqual(Math.max(...waitBounds));
  });

  it('sorts enabled certificates by days to expiry, and only for readers of the configuration', async () => {
    const certificates = await ok<Certificate[]>(command(who.owner.socket, 'certificate.list'));
    const before = (await stats(who.viewer.socket)).certificateExpiry!;
    expect(Object.values(before).reduce((a, b) => a + b)).toBe(certificates.filter((c) => !c.disabled && c.notAfter).length);

    const longLived = await ok<Certificate>(
      command(who.owner.socket, 'certificate.generate', { slug: 'long-lived', name: 'Long lived', type: 'release', custody: 'software', algorithm: 'ECDSA-P256', commonName: 'Long lived', validDays: 400 }),
    );
    const after = (await stats(who.viewer.socket)).certificateExpiry!;
    expect(after.later).toBe(before.later + 1);
    await ok(command(who.owner.socket, 'certificate.update', { certificateId: longLived.id, version: longLived.version, disabled: true }));
    expect((await stats(who.viewer.socket)).certificateExpiry).toEqual(before);

    // An API key that may read requests but not the configuration sees no certificates.
    const { token } = await ok(command(who.member.socket, 'apiKey.create', { name: 'requests only', permissions: ['signing:read'] }));
    const { body } = await restCommand(fx.node, 'dashboard.stats', { days: 14 }, { token });
    expect(body.ok).toBe(true);
    expect(body.result!.certificateExpiry).toBeNull();
    expect(today(body.result!.finished.Completed)).toBe(2);
  });

  it('refuses a period it does not keep, naming the field', async () => {
    for (const days of [0, 91, 1.5]) {
      const refused = await command(who.viewer.socket, 'dashboard.stats', { days });
      expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'days' }] });
    }
  });
});

describe('the buckets and percentiles', () => {
  it('puts a certificate in the first bucket whose bound its days left are under', () => {
    const now = Date.UTC(2025, 0, 1);
    expect(expiryBucket(now - 1, now)).toBe('expired');
    expect(expiryBucket(now + 6.9 * DAY_MS, now)).toBe('within7');
    expect(expiryBucket(now + 7 * DAY_MS, now)).toBe('within30');
    expect(expiryBucket(now + 89 * DAY_MS, now)).toBe('within90');
    expect(expiryBucket(now + 90 * DAY_MS, now)).toBe('later');
  });

  it('takes the nearest-rank percentile', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 90)).toBe(9);
    expect(percentile([42], 90)).toBe(42);
  });
});
