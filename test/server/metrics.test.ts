// GET /metrics on a live node after real traffic (sign-ins, commands, a signed request with a webhook
// delivery, a 404): what an operator expects is there, labelled by route pattern (never a raw path
// with ids), and Prometheus' own linter (`promtool check metrics`) finds nothing.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { QUEUE_STATES } from '../../server/metrics.js';
import { spawnRedisServer } from '../../server/store/localRedis.js';
import { command, restCommand, startNode, testConfig, type ClientSocket, type TestOrg } from '../helpers/signet.js';
import { createApiKey, createPolicy, createProject, generateCertificate, ok, randomArtifact, removeDir, submitOk, tempDir, waitForFinal } from '../helpers/signing.js';
import { useSignet, type SignetFixture } from '../helpers/signetFixture.js';

let receiverUrl: string;
const fx: SignetFixture = useSignet({
  config: async () => {
    const receiver = http.createServer((_req, res) => res.writeHead(200).end('thanks'));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    fx.onClose(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    return testConfig({ SIGNET_ARTIFACT_DIR: fx.tempDir('signet-metrics-') });
  },
});
let node: SignetNode;
let org: TestOrg;
/** The sockets the fixture connected, one per role. */
const sockets: ClientSocket[] = [];
let requestId: string;

beforeAll(async () => {
  ({ node, org } = fx);
  const { who } = fx;
  sockets.push(...Object.values(who).map((person) => person.socket));
  const owner = who.owner.socket;

  // A signed request whose project has a webhook: signing and delivery metrics get samples.
  const project = await createProject(owner, 'metered');
  await ok(command(owner, 'webhook.create', { projectId: project.id, url: `${receiverUrl}/hook` }));
  const certificate = await generateCertificate(owner, 'metered-cert');
  await createPolicy(owner, { projectId: project.id, slug: 'main', certificateId: certificate.id, submitters: [who.member.userId] });
  const token = await createApiKey(who.member.socket);
  const submitted = await submitOk(node, org.slug, token, { projectSlug: 'metered', signingPolicySlug: 'main', artifact: randomArtifact(), fileName: 'tool.zip' });
  requestId = submitted.id;
  expect((await waitForFinal(node, org.slug, requestId, token)).workflowStatus).toBe('Completed');
  await restCommand(node, 'me.get', {}, { token });
  await fetch(`${node.url}/api/v1/orgs/${org.slug}/signing-requests/${requestId}`, { headers: { authorization: `Bearer ${token}` } });
  await fetch(`${node.url}/no/such/page`);
});


async function scrape(): Promise<string> {
  const response = await fetch(`${node.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** Scrapes until `pattern` shows (the worker records a job's outcome right after its last commit). */
async function scrapeUntil(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape();
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`/metrics did not show ${pattern} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe('GET /metrics', () => {
  it('passes `promtool check metrics` with no findings', async () => {
    const text = await scrapeUntil(/signet_webhook_deliveries_total\{outcome="delivered"\} 1/);
    const { code, output } = await promtool(text);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('promtool does report a lint problem when there is one (the check above can fail)', async () => {
    const { code, output } = await promtool('# HELP broken_things a gauge named like a counter\n# TYPE broken_things_total gauge\nbroken_things_total 1\n');
    expect(code).not.toBe(0);
    expect(output).not.toBe('');
  });

  it('counts HTTP requests by method, route pattern and status, with latency, and never by raw path', async () => {
    const text = await scrape();
    expect(text).toMatch(/signet_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/orgs\/:org\/signing-requests",status="201"\} 1/);
    expect(text).toMatch(/signet_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/orgs\/:org\/signing-requests\/:id",status="200"\} \d+/);
    expect(text).toMatch(/signet_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/auth\/login",status="200"\} 4/);
    expect(text).toMatch(/signet_http_request_duration_seconds_bucket\{le="0.1",method="POST",route="\/api\/v1\/commands\/:name",status="200"\}/);
    expect(text).toMatch(/route="unmatched",status="404"/);
    expect(text).not.toContain(requestId);
    expect(text).not.toContain(org.slug);
    expect(text).not.toContain('/no/such/page');
  });

  it('shows queue depth by state, job outcomes, signing duration and webhook deliveries', async () => {
    // The worker's `completed` event comes after the job's function (which times the signing) returned.
    const text = await scrapeUntil(/signet_queue_jobs_finished_total\{queue="signing",outcome="completed"\} 1/);
    expect(text).toMatch(/signet_signing_duration_seconds_count\{outcome="completed"\} 1/);
    for (const queue of ['signing', 'webhooks', 'mail', 'chat']) {
      for (const state of QUEUE_STATES) expect(text).toMatch(new RegExp(`signet_queue_jobs\\{queue="${queue}",state="${state}"\\} \\d+`));
    }
    expect(text).toMatch(/# TYPE signet_signing_failures_total counter/);
    await scrapeUntil(/signet_webhook_deliveries_total\{outcome="delivered"\} 1/);
  });

  it('shows Redis latency, event-loop lag, sockets, and the counters reserved for drain and revocation work', async () => {
    const text = await scrape();
    expect(text).toMatch(/signet_redis_ping_duration_seconds_count [1-9]\d*/);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(text).toMatch(new RegExp(`^signet_sockets ${sockets.length}$`, 'm'));
    expect(text).toMatch(/^signet_socket_buffer_disconnects_total 0$/m);
    expect(text).toMatch(/^signet_revocation_confirmation_duration_seconds_count 0$/m);
    expect(text).toMatch(/^signet_commands_total\{command="webhook.create",outcome="ok"\} 1$/m);
  });
});

describe('GET /metrics while Redis is frozen', () => {
  it('still answers, with the last queue depths, instead of hanging on the queue counts', async () => {
    const dir = tempDir('signet-metrics-frozen-');
    const frozen = await spawnRedisServer({ dir });
    const lonely = await startNode(testConfig(), frozen.url);
    try {
      expect(await (await fetch(`${lonely.url}/metrics`)).text()).toMatch(/signet_queue_jobs\{queue="signing",state="waiting"\} 0/);
      frozen.child.kill('SIGSTOP');
      // Bounded by the queue-count timeout (1 s), not by Redis: without it this request never ends.
      const response = await fetch(`${lonely.url}/metrics`, { signal: AbortSignal.timeout(15_000) });
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/signet_queue_jobs\{queue="signing",state="waiting"\} 0/);
    } finally {
      frozen.child.kill('SIGCONT');
      await lonely.close();
      await frozen.stop();
      removeDir(dir);
    }
  });
});
