// Project webhooks (SPEC §4): on the status changes a webhook subscribes to (by default the final
// statuses) it gets POST {organization, signingRequestId, status, event, workflowStatus}, signed with
// HMAC-SHA256 over `${timestamp}.${body}` under the secret shown once at creation, retried with
// backoff; deleted webhooks get nothing. The receiver is a real HTTP server on loopback.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { createRedisClient, type Redis } from '../../../server/store/redis.js';
import type { Certificate, SigningRequest } from '../../../src/lib/shared/entities.js';
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest } from '../../helpers/receivers.js';
import { withoutQueueing } from '../../helpers/outreach.js';
import { command, redisUrl, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import {
  createApiKey,
  createPolicy,
  createProject,
  generateCertificate,
  ok,
  randomArtifact,
  submitOk,
  waitForStatus,
} from '../../helpers/signing.js';
import { useSignet, type SignetFixture } from '../../helpers/signetFixture.js';

const ATTEMPTS = 3;

type Delivery = ReceivedRequest;

let receiver: HttpReceiver;
const fx: SignetFixture = useSignet({
  config: async () => {
    receiver = await startHttpReceiver();
    fx.onClose(() => receiver.close());
    return testConfig({ SIGNET_ARTIFACT_DIR: fx.tempDir('signet-webhooks-'), SIGNET_WEBHOOK_ATTEMPTS: String(ATTEMPTS), SIGNET_RATE_LIMIT_PER_MINUTE: '100000' });
  },
});
const { who } = fx;
let node: SignetNode;
let org: TestOrg;
let owner: ClientSocket;
let certificate: Certificate;
let memberToken: string;
let receiverUrl: string;
const bullClients: Redis[] = [];
let webhookQueue: Queue;
let webhookEvents: QueueEvents;

beforeAll(async () => {
  receiverUrl = receiver.url;
  ({ node, org } = fx);
  owner = who.owner.socket;
  certificate = await generateCertificate(owner, 'hook-cert');
  memberToken = await createApiKey(who.member.socket);

  // The queue the nodes deliver from, to see which deliveries exist and when a job is done.
  const bullConnection = () => {
    const client = createRedisClient(redisUrl(), { lazyConnect: false, maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout: undefined });
    client.on('error', () => {});
    bullClients.push(client);
    return client;
  };
  webhookQueue = new Queue('webhooks', { connection: bullConnection(), prefix: node.signet.keys.bullPrefix });
  webhookEvents = new QueueEvents('webhooks', { connection: bullConnection(), prefix: node.signet.keys.bullPrefix });
  await webhookEvents.waitUntilReady();
  fx.onClose(async () => {
    await webhookEvents.close();
    await webhookQueue.close();
    for (const client of bullClients) client.disconnect();
  });
});

function deliveriesTo(pathname: string): Delivery[] {
  return receiver.to(pathname);
}

/** Resolves once `pathname` has received `count` deliveries. */
function waitForDeliveries(pathname: string, count: number, timeoutMs = 15_000): Promise<Delivery[]> {
  return receiver.waitFor(pathname, count, timeoutMs);
}

/** Checks x-signet-signature = sha256=HMAC-SHA256(secret, `${x-signet-timestamp}.${body}`). */
function signatureValid(delivery: Delivery, secret: string): boolean {
  const timestamp = delivery.headers['x-signet-timestamp'];
  const header = delivery.headers['x-signet-signature'];
  if (typeof timestamp !== 'string' || typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}.${delivery.body}`).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** What a call about `request` entering `workflowStatus` carries. */
function payload(request: { id: string }, workflowStatus: string, status = workflowStatus, event = `request.${workflowStatus.charAt(0).toLowerCase()}${workflowStatus.slice(1)}`) {
  return { organization: org.slug, signingRequestId: request.id, status, event, workflowStatus };
}

async function projectWithWebhooks(
  slug: string,
  hookPaths: string[],
  policy: { approvers?: string[]; requiredApprovals?: number } = {},
  events?: string[],
) {
  const project = await createProject(owner, slug);
  const created = [];
  for (const hookPath of hookPaths) {
    const result = await ok<{ webhook: { id: string; url: string; events: string[]; version: number }; secret: string }>(
      command(owner, 'webhook.create', { projectId: project.id, url: `${receiverUrl}${hookPath}`, ...(events ? { events } : {}) }),
    );
    created.push(result);
  }
  const signingPolicy = await createPolicy(owner, {
    projectId: project.id,
    slug: 'main',
    certificateId: certificate.id,
    submitters: [who.member.userId],
    approvers: policy.approvers ?? [],
    requiredApprovals: policy.requiredApprovals ?? 0,
  });
  return { project, policy: signingPolicy, webhooks: created };
}

async function submit(projectSlug: string) {
  const request = await submitOk(node, org.slug, memberToken, { projectSlug, signingPolicySlug: 'main', artifact: randomArtifact(), fileName: 'tool.zip' });
  return request as { id: string; workflowStatus: string };
}

/** The delivery jobs that exist (in any state) for one webhook. */
async function jobsOf(webhookId: string) {
  const jobs = await webhookQueue.getJobs(['wait', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children']);
  return jobs.filter((job) => job?.data?.webhookId === webhookId);
}

describe('webhooks', () => {
  it('webhook.create shows the secret once; it is in no listing, event or audit entry', async () => {
    const project = await createProject(owner, 'secretive');
    const created = await ok(command(owner, 'webhook.create', { projectId: project.id, url: `${receiverUrl}/secretive` }));
    expect(created.secret).toMatch(/^whsec_.{20,}/);
    expect(created.webhook).toMatchObject({ projectId: project.id, url: `${receiverUrl}/secretive` });
    const listed = await ok(command(owner, 'webhook.list', { projectId: project.id }));
    expect(listed.map((w: any) => w.id)).toEqual([created.webhook.id]);
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    await command(owner, 'me.get');
    expect(JSON.stringify(owner.received)).not.toContain(created.secret);
    const audit = await ok(command(owner, 'audit.query', { targetId: created.webhook.id }));
    expect(JSON.stringify(audit)).toContain('webhook.create');
    expect(JSON.stringify(audit)).not.toContain(created.secret);
  });

  it('on Completed the receiver gets POST {organization, signingRequestId, status, event, workflowStatus} with a valid HMAC-SHA256 signature', async () => {
    const { project, webhooks } = await projectWithWebhooks('hooked', ['/completed']);
    const secret = webhooks[0]!.secret;
    const request = await submit(project.slug);
    await waitForStatus(owner, request.id, 'Completed');
    const [delivery] = await waitForDeliveries('/completed', 1);
    expect(delivery!.method).toBe('POST');
    expect(delivery!.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(delivery!.body)).toEqual(payload(request, 'Completed'));
    expect(JSON.parse(delivery!.body)).toEqual({ organization: org.slug, signingRequestId: request.id, status: 'Completed', event: 'request.completed', workflowStatus: 'Completed' });
    expect(signatureValid(delivery!, secret)).toBe(true);
    // The signature covers the timestamp and the body: another secret, body or timestamp fails.
    expect(signatureValid(delivery!, `${secret}x`)).toBe(false);
    expect(signatureValid({ ...delivery!, body: delivery!.body.replace('Completed', 'Denied') }, secret)).toBe(false);
    expect(signatureValid({ ...delivery!, headers: { ...delivery!.headers, 'x-signet-timestamp': '1' } }, secret)).toBe(false);
    const timestamp = Number(delivery!.headers['x-signet-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);
  });

  it('a receiver answering 500 twice then 200 gets the delivery on the third try, after growing delays', async () => {
    receiver.answer('/flaky', (attempt) => (attempt <= 2 ? 500 : 200));
    const { project, webhooks } = await projectWithWebhooks('flaky', ['/flaky']);
    const request = await submit(project.slug);
    await waitForStatus(owner, request.id, 'Completed');
    const tries = await waitForDeliveries('/flaky', 3, 20_000);
    expect(tries.map((d) => d.answered)).toEqual([500, 500, 200]);
    for (const attempt of tries) {
      expect(JSON.parse(attempt.body)).toEqual(payload(request, 'Completed'));
      expect(signatureValid(attempt, webhooks[0]!.secret)).toBe(true);
    }
    // Exponential backoff from one second: about 1 s, then about 2 s.
    const firstGap = tries[1]!.at - tries[0]!.at;
    const secondGap = tries[2]!.at - tries[1]!.at;
    expect(firstGap).toBeGreaterThanOrEqual(900);
    expect(secondGap).toBeGreaterThanOrEqual(1800);
    expect(secondGap).toBeGreaterThan(firstGap);
    // The third answer ended it: the delivery job is completed, not waiting for another try.
    const [job] = await jobsOf(webhooks[0]!.webhook.id);
    await job!.waitUntilFinished(webhookEvents, 10_000);
    expect(await job!.getState()).toBe('completed');
    expect(deliveriesTo('/flaky')).toHaveLength(3);
  });

  it(`a receiver that always fails gets exactly SIGNET_WEBHOOK_ATTEMPTS (${ATTEMPTS}) tries`, async () => {
    receiver.answer('/down', () => 503);
    const { project, webhooks } = await projectWithWebhooks('down', ['/down']);
    const request = await submit(project.slug);
    await waitForStatus(owner, request.id, 'Completed');
    await waitForDeliveries('/down', 1);
    const [job] = await jobsOf(webhooks[0]!.webhook.id);
    await expect(job!.waitUntilFinished(webhookEvents, 20_000)).rejects.toThrow(/503/);
    expect(deliveriesTo('/down').map((d) => d.answered)).toEqual(Array(ATTEMPTS).fill(503));
  });

  it('a Denied request triggers the webhook too', async () => {
    const { project, webhooks } = await projectWithWebhooks('denials', ['/denied'], { approvers: [who.admin.userId], requiredApprovals: 1 });
    const request = await submit(project.slug);
    expect(request.workflowStatus).toBe('WaitingForApproval');
    const denied = await ok<SigningRequest>(command(who.admin.socket, 'request.deny', { requestId: request.id, comment: 'not this one' }));
    expect(denied.workflowStatus).toBe('Denied');
    const [delivery] = await waitForDeliveries('/denied', 1);
    expect(JSON.parse(delivery!.body)).toEqual(payload(request, 'Denied'));
    expect(signatureValid(delivery!, webhooks[0]!.secret)).toBe(true);
  });

  it('deliveries lost between the commit and their queueing (the node died) are queued by the reconciler', async () => {
    const { project, webhooks } = await projectWithWebhooks('lost-hooks', ['/lost'], { approvers: [who.admin.userId], requiredApprovals: 1 });
    const request = await submit(project.slug);
    // Fault injection: the denial commits with its webhook call owed, but the node never queues it.
    await withoutQueueing(node, () => ok(command(who.admin.socket, 'request.deny', { requestId: request.id, comment: 'lost in transit' })));
    expect(await jobsOf(webhooks[0]!.webhook.id)).toEqual([]);
    const deliveryId = `webhook-${webhooks[0]!.webhook.id}-${request.id}-Denied`;
    expect(await node.signet.redis.zrange(node.signet.keys.outboxPending, '0', '-1')).toContain(deliveryId);
    const [delivery] = await waitForDeliveries('/lost', 1, 20_000);
    expect(JSON.parse(delivery!.body)).toEqual(payload(request, 'Denied'));
    expect(signatureValid(delivery!, webhooks[0]!.secret)).toBe(true);
    expect(await jobsOf(webhooks[0]!.webhook.id)).toHaveLength(1);
    expect(await node.signet.redis.zrange(node.signet.keys.outboxPending, '0', '-1')).not.toContain(deliveryId);
  });

  it('final statuses recorded as owed by a node from before the outbox still get their calls', async () => {
    const { project, webhooks } = await projectWithWebhooks('legacy-hooks', ['/legacy'], { approvers: [who.admin.userId], requiredApprovals: 1 });
    const request = await submit(project.slug);
    await withoutQueueing(node, () => ok(command(who.admin.socket, 'request.deny', { requestId: request.id, comment: 'the old way' })));
    // What an older node left: only the request marked as owed, in the key it used.
    const { redis, keys } = node.signet;
    const owed = await redis.zrange(keys.outboxPending, '0', '-1');
    await redis.multi().zrem(keys.outboxPending, ...owed).del(...owed.map((id) => keys.outboxItem(id))).zadd(keys.webhooksPending, Date.now(), `${org.orgId}:${request.id}`).exec();
    const [delivery] = await waitForDeliveries('/legacy', 1, 20_000);
    expect(JSON.parse(delivery!.body)).toEqual(payload(request, 'Denied'));
    expect(signatureValid(delivery!, webhooks[0]!.secret)).toBe(true);
    expect(await redis.zrange(keys.webhooksPending, '0', '-1')).not.toContain(`${org.orgId}:${request.id}`);
  });

  it('a deleted webhook gets no deliveries; one deleted between tries gets no further try', async () => {
    receiver.answer('/late', () => 500);
    const { project, webhooks } = await projectWithWebhooks('pruned', ['/kept', '/gone', '/late']);
    const [kept, gone, late] = webhooks;
    expect(await ok(command(owner, 'webhook.delete', { webhookId: gone!.webhook.id }))).toEqual({ deleted: gone!.webhook.id });
    const listed = await ok(command(owner, 'webhook.list', { projectId: project.id }));
    expect(listed.map((w: any) => w.id).sort()).toEqual([kept!.webhook.id, late!.webhook.id].sort());

    const request = await submit(project.slug);
    await waitForStatus(owner, request.id, 'Completed');
    const [keptDelivery] = await waitForDeliveries('/kept', 1);
    expect(signatureValid(keptDelivery!, kept!.secret)).toBe(true);
    // The late one failed once; delete it before its retry (a second or more later).
    await waitForDeliveries('/late', 1);
    await ok(command(owner, 'webhook.delete', { webhookId: late!.webhook.id }));
    const [lateJob] = await jobsOf(late!.webhook.id);
    await lateJob!.waitUntilFinished(webhookEvents, 15_000);
    expect(deliveriesTo('/late')).toHaveLength(1);
    const [keptJob] = await jobsOf(kept!.webhook.id);
    await keptJob!.waitUntilFinished(webhookEvents, 15_000);
    // Nothing was ever queued for the webhook deleted before the request finished.
    expect(await jobsOf(gone!.webhook.id)).toEqual([]);
    expect(deliveriesTo('/gone')).toEqual([]);
  });

  it('a webhook subscribed to request.waitingForApproval hears it, then each status it chose; one with the defaults hears only the end', async () => {
    const events = ['request.waitingForApproval', 'request.queuedForProcessing', 'request.processing', 'request.completed'];
    const { project, webhooks } = await projectWithWebhooks('every-step', ['/every-step'], { approvers: [who.admin.userId], requiredApprovals: 1 }, events);
    expect(webhooks[0]!.webhook.events).toEqual(events);
    const finalOnly = await ok(command(owner, 'webhook.create', { projectId: project.id, url: `${receiverUrl}/final-only` }));
    expect(finalOnly.webhook.events).toEqual(['request.completed', 'request.processingFailed', 'request.denied', 'request.canceled']);

    const request = await submit(project.slug);
    const [waiting] = await waitForDeliveries('/every-step', 1);
    expect(JSON.parse(waiting!.body)).toEqual(payload(request, 'WaitingForApproval'));
    expect(signatureValid(waiting!, webhooks[0]!.secret)).toBe(true);

    await ok(command(who.admin.socket, 'request.approve', { requestId: request.id }));
    await waitForStatus(owner, request.id, 'Completed');
    const calls = await waitForDeliveries('/every-step', 4);
    expect(new Set(calls.map((call) => JSON.parse(call.body).event))).toEqual(new Set(events));
    expect(calls.map((call) => JSON.parse(call.body)).find((body) => body.event === 'request.processing')).toEqual(payload(request, 'Processing', 'InProgress'));
    for (const call of calls) expect(signatureValid(call, webhooks[0]!.secret)).toBe(true);
    const [final] = await waitForDeliveries('/final-only', 1);
    expect(JSON.parse(final!.body)).toEqual(payload(request, 'Completed'));
    // Each job is done: nothing more is coming for either webhook.
    for (const webhook of [webhooks[0]!.webhook, finalOnly.webhook]) {
      for (const job of await jobsOf(webhook.id)) await job.waitUntilFinished(webhookEvents, 15_000);
    }
    expect(deliveriesTo('/every-step')).toHaveLength(4);
    expect(deliveriesTo('/final-only')).toHaveLength(1);
  });

  it('webhook.update changes what a webhook hears, naming the version it read; the change is audited', async () => {
    const { project, webhooks } = await projectWithWebhooks('resubscribed', ['/resubscribed'], { approvers: [who.admin.userId], requiredApprovals: 1 });
    const { webhook } = webhooks[0]!;
    const updated = await ok(command(owner, 'webhook.update', { webhookId: webhook.id, version: webhook.version, events: ['request.denied', 'request.waitingForApproval', 'request.denied'] }));
    expect(updated).toMatchObject({ id: webhook.id, events: ['request.waitingForApproval', 'request.denied'], version: webhook.version + 1 });
    const stale = await command(owner, 'webhook.update', { webhookId: webhook.id, version: webhook.version, events: ['request.completed'] });
    expect(stale.error).toMatchObject({ code: 'CONFLICT', current: { events: ['request.waitingForApproval', 'request.denied'] } });
    const audit = await ok(command(owner, 'audit.query', { targetId: webhook.id }));
    expect(audit.entries.find((entry: any) => entry.action === 'webhook.update')).toMatchObject({
      changes: { events: { before: ['request.completed', 'request.processingFailed', 'request.denied', 'request.canceled'], after: ['request.waitingForApproval', 'request.denied'] } },
    });

    const request = await submit(project.slug);
    await ok(command(who.admin.socket, 'request.deny', { requestId: request.id, comment: 'no' }));
    const calls = await waitForDeliveries('/resubscribed', 2);
    expect(new Set(calls.map((call) => JSON.parse(call.body).event))).toEqual(new Set(['request.waitingForApproval', 'request.denied']));
  });

  it('an unknown event, an empty list or a member without config:write is refused, and nothing changes', async () => {
    const project = await createProject(owner, 'refusals');
    for (const events of [['request.exploded'], [], ['request.submitted']]) {
      const refused = await command(owner, 'webhook.create', { projectId: project.id, url: `${receiverUrl}/never`, events });
      expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', issues: [expect.objectContaining({ path: expect.stringMatching(/^events/) })] });
    }
    expect(await ok(command(owner, 'webhook.list', { projectId: project.id }))).toEqual([]);
    const created = await ok(command(owner, 'webhook.create', { projectId: project.id, url: `${receiverUrl}/kept` }));
    const denied = await command(who.viewer.socket, 'webhook.update', { webhookId: created.webhook.id, version: 1, events: ['request.completed'] });
    expect(denied.error).toMatchObject({ code: 'FORBIDDEN' });
    expect((await ok(command(owner, 'webhook.list', { projectId: project.id })))[0].events).toHaveLength(4);
  });
});
