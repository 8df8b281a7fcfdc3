// Project webhooks (SPEC §4): on a final status the project's webhooks get POST
// {organization, signingRequestId, status}, signed with HMAC-SHA256 over `${timestamp}.${body}`
// under the secret shown once at creation, retried with backoff; deleted webhooks get nothing.
// The receiver is a real HTTP server on loopback.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { createRedisClient, type Redis } from '../../../server/store/redis.js';
import type { Certificate, SigningRequest } from '../../../src/lib/shared/entities.js';
import { command, redisUrl, seedOrg, startNode, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import {
  createApiKey,
  createPolicy,
  createProject,
  generateCertificate,
  ok,
  people,
  randomArtifact,
  submitOk,
  waitForStatus,
  type Person,
} from '../../helpers/signing.js';

const ATTEMPTS = 3;

interface Delivery {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  answered: number;
}

let artifactDir: string;
let node: SignetNode;
let org: TestOrg;
let who: Record<'owner' | 'admin' | 'member' | 'viewer', Person>;
let owner: ClientSocket;
let certificate: Certificate;
let memberToken: string;
let receiver: http.Server;
let receiverUrl: string;
let bullClients: Redis[] = [];
let webhookQueue: Queue;
let webhookEvents: QueueEvents;
const sockets: ClientSocket[] = [];
const deliveries: Delivery[] = [];
/** Per path: the status to answer to the nth delivery (from 1); 200 when absent. */
const responders = new Map<string, (attempt: number) => number>();
const listeners = new Set<() => void>();

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const pathname = req.url ?? '/';
      const attempt = deliveries.filter((d) => d.path === pathname).length + 1;
      const answered = responders.get(pathname)?.(attempt) ?? 200;
      deliveries.push({ path: pathname, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), answered });
      res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'thanks' : 'try again');
      for (const listener of [...listeners]) listener();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  artifactDir = mkdtempSync(path.join(os.tmpdir(), 'signet-webhooks-'));
  const config = testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_WEBHOOK_ATTEMPTS: String(ATTEMPTS), SIGNET_RATE_LIMIT_PER_MINUTE: '100000' });
  node = await startNode(config);
  org = await seedOrg(node);
  who = await people(node, org, {}, sockets);
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
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await webhookEvents?.close();
  await webhookQueue?.close();
  for (const client of bullClients) client.disconnect();
  bullClients = [];
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  if (artifactDir) rmSync(artifactDir, { recursive: true, force: true });
});

function deliveriesTo(pathname: string): Delivery[] {
  return deliveries.filter((d) => d.path === pathname);
}

/** Resolves once `pathname` has received `count` deliveries. */
function waitForDeliveries(pathname: string, count: number, timeoutMs = 15_000): Promise<Delivery[]> {
  if (deliveriesTo(pathname).length >= count) return Promise.resolve(deliveriesTo(pathname));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      listeners.delete(check);
      reject(new Error(`${pathname}: expected ${count} deliveries within ${timeoutMs} ms, got ${deliveriesTo(pathname).length}`));
    }, timeoutMs);
    const check = () => {
      if (deliveriesTo(pathname).length < count) return;
      clearTimeout(timer);
      listeners.delete(check);
      resolve(deliveriesTo(pathname));
    };
    listeners.add(check);
  });
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

async function projectWithWebhooks(slug: string, hookPaths: string[], policy: { approvers?: string[]; requiredApprovals?: number } = {}) {
  const project = await createProject(owner, slug);
  const created = [];
  for (const hookPath of hookPaths) {
    const result = await ok<{ webhook: { id: string; url: string }; secret: string }>(
      command(owner, 'webhook.create', { projectId: project.id, url: `${receiverUrl}${hookPath}` }),
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

  it('on Completed the receiver gets POST {organization, signingRequestId, status} with a valid HMAC-SHA256 signature', async () => {
    const { project, webhooks } = await projectWithWebhooks('hooked', ['/completed']);
    const secret = webhooks[0]!.secret;
    const request = await submit(project.slug);
    await waitForStatus(owner, request.id, 'Completed');
    const [delivery] = await waitForDeliveries('/completed', 1);
    expect(delivery!.method).toBe('POST');
    expect(delivery!.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(delivery!.body)).toEqual({ organization: org.slug, signingRequestId: request.id, status: 'Completed' });
    expect(signatureValid(delivery!, secret)).toBe(true);
    // The signature covers the timestamp and the body: another secret, body or timestamp fails.
    expect(signatureValid(delivery!, `${secret}x`)).toBe(false);
    expect(signatureValid({ ...delivery!, body: delivery!.body.replace('Completed', 'Denied') }, secret)).toBe(false);
    expect(signatureValid({ ...delivery!, headers: { ...delivery!.headers, 'x-signet-timestamp': '1' } }, secret)).toBe(false);
    const timestamp = Number(delivery!.headers['x-signet-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);
  });

  it('a receiver answering 500 twice then 200 gets the delivery on the third try, after growing delays', async () => {
    responders.set('/flaky', (attempt) => (attempt <= 2 ? 500 : 200));
    const { project, webhooks } = await projectWithWebhooks('flaky', ['/flaky']);
    const request = await submit(project.slug);
    await waitForStatus(owner, request.id, 'Completed');
    const tries = await waitForDeliveries('/flaky', 3, 20_000);
    expect(tries.map((d) => d.answered)).toEqual([500, 500, 200]);
    for (const attempt of tries) {
      expect(JSON.parse(attempt.body)).toEqual({ organization: org.slug, signingRequestId: request.id, status: 'Completed' });
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
    responders.set('/down', () => 503);
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
    expect(JSON.parse(delivery!.body)).toEqual({ organization: org.slug, signingRequestId: request.id, status: 'Denied' });
    expect(signatureValid(delivery!, webhooks[0]!.secret)).toBe(true);
  });

  it('deliveries lost between the commit and their queueing (the node died) are queued by the reconciler', async () => {
    const { project, webhooks } = await projectWithWebhooks('lost-hooks', ['/lost'], { approvers: [who.admin.userId], requiredApprovals: 1 });
    const request = await submit(project.slug);
    const jobs = node.signet.jobs!;
    // Fault injection: the denial commits, but the node never gets to queue its webhook jobs.
    node.signet.jobs = { ...jobs, enqueueWebhooks: async () => {} };
    try {
      await ok(command(who.admin.socket, 'request.deny', { requestId: request.id, comment: 'lost in transit' }));
    } finally {
      node.signet.jobs = jobs;
    }
    expect(await jobsOf(webhooks[0]!.webhook.id)).toEqual([]);
    const owed = await node.signet.redis.zrange(node.signet.keys.webhooksPending, '0', '-1');
    expect(owed).toContain(`${org.orgId}:${request.id}`);
    const [delivery] = await waitForDeliveries('/lost', 1, 20_000);
    expect(JSON.parse(delivery!.body)).toEqual({ organization: org.slug, signingRequestId: request.id, status: 'Denied' });
    expect(signatureValid(delivery!, webhooks[0]!.secret)).toBe(true);
    expect(await jobsOf(webhooks[0]!.webhook.id)).toHaveLength(1);
    expect(await node.signet.redis.zrange(node.signet.keys.webhooksPending, '0', '-1')).not.toContain(`${org.orgId}:${request.id}`);
  });

  it('a deleted webhook gets no deliveries; one deleted between tries gets no further try', async () => {
    responders.set('/late', () => 500);
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
});
