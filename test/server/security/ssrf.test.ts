// Outbound requests (webhook deliveries, JWKS fetches) cannot be turned against the server's own
// network (issue 10, hole 1). A real HTTP listener on 127.0.0.1 records every connection and
// request and would answer like a willing victim (200, and the right JWKS); a node with NO allowed
// CIDRs must never reach it, whatever form the URL takes, whether the URL is checked when saved or
// written straight into Redis, and whatever a real DNS server on loopback answers when the request
// is made (DNS rebinding). A second node allows 127.0.0.2/32 only: it reaches a receiver there (by
// address and by name), never follows its redirects to 127.0.0.1, and says the same thing whether
// nothing answered, the address was refused, the port was closed or the keys did not match.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueueEvents } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSignetNode, type SignetNode } from '../../../server/index.js';
import { OUTBOUND_FAILED } from '../../../server/net/outbound.js';
import { createRedisClient, type Redis } from '../../../server/store/redis.js';
import { startDnsServer, type TestDnsServer } from '../../helpers/dnsServer.js';
import { startTestIssuer, type TestIssuer } from '../../helpers/oidcIssuer.js';
import { command, connect, redisUrl, seedOrg, signIn, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { createPolicy, createProject, generateCertificate, must, randomArtifact, removeDir, submitOk, submitRequest, tempDir } from '../../helpers/signing.js';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
const KEYS_NAME = 'Build keys';
const NEUTRAL_JWKS = `Origin verification failed: the origin token could not be verified with the keys of build system "${KEYS_NAME}"`;
/** An address on the public internet: what a rebinding name answers first. */
const PUBLIC_ADDRESS = '93.184.215.14';

interface Listener {
  host: string;
  port: number;
  origin: string;
  /** Every request, as "METHOD /path". */
  requests: string[];
  /** TCP connections accepted, with or without a request. */
  connections: number;
  close(): Promise<void>;
}

async function listen(host: string, answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Listener> {
  const server = http.createServer((req, res) => {
    listener.requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => answer(req, res));
  });
  server.on('connection', () => (listener.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const listener: Listener = {
    host,
    port,
    origin: `http://${host}:${port}`,
    requests: [],
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return listener;
}

/** A port on `host` that nothing listens on (it was free a moment ago and is closed again). */
async function closedPort(host: string): Promise<number> {
  const probe = await listen(host, (_req, res) => res.end());
  await probe.close();
  return probe.port;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

interface Site {
  node: SignetNode;
  org: TestOrg;
  owner: ClientSocket;
  admin: ClientSocket;
  ci: { userId: string; token: string };
  certificateId: string;
  buildSystemId: string;
  /** Every line the node logged. */
  logs: string[];
  /** Webhook delivery jobs that ended, by job id. */
  outcomes: Map<string, { failed: boolean; reason: string }>;
  events: QueueEvents;
  onOutcome: Set<() => void>;
}

let artifactDir: string;
let idp: TestIssuer;
let stranger: TestIssuer;
let dns: TestDnsServer;
/** On 127.0.0.1: answers every request as a victim would; must never see a connection. */
let victim: Listener;
/** On 127.0.0.2, which the lenient node allows. */
let receiver: Listener;
let strict: Site;
let lenient: Site;
const sockets: ClientSocket[] = [];
const bullClients: Redis[] = [];

async function startSite(allowedCidrs: string): Promise<Site> {
  const logs: string[] = [];
  const config = testConfig({
    SIGNET_OUTBOUND_ALLOWED_CIDRS: allowedCidrs,
    SIGNET_WEBHOOK_ATTEMPTS: '1',
    SIGNET_ARTIFACT_DIR: artifactDir,
    SIGNET_RATE_LIMIT_PER_MINUTE: '100000',
  });
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const node = await startSignetNode({ config, redis: redisUrl(), serveUi: false, logger, outboundDnsServers: [dns.address] });
  const org = await seedOrg(node);
  const open = async (user: { email: string; password: string }) => {
    const socket = await connect(node, { cookie: await signIn(node, user) });
    sockets.push(socket);
    return socket;
  };
  const owner = await open(org.users.owner);
  const admin = await open(org.users.admin);
  const created = await must(owner, 'ciUser.create', { name: 'Runner' });
  const ci = { userId: created.ciUser.userId, token: created.token };
  const certificate = await generateCertificate(owner, 'ssrf-cert');
  // Origin verification: a project on github.com/acme/widget, a policy that requires it, and a
  // build system whose JWKS URL the tests write straight into Redis.
  const project = await createProject(owner, 'widget', { repositoryUrl: 'https://github.com/acme/widget' });
  await createPolicy(owner, { projectId: project.id, slug: 'verified', certificateId: certificate.id, submitters: [ci.userId], originVerification: true, allowedBranches: ['main'] });
  // The name does not resolve (the test DNS server knows it not): accepted, judged when used.
  const buildSystem = await must(admin, 'buildSystem.create', { name: KEYS_NAME, issuer: GITHUB_ISSUER, audience: idp.audience, jwksUrl: 'https://keys.example.com/jwks' });

  const connection = createRedisClient(redisUrl(), { lazyConnect: false, maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout: undefined });
  connection.on('error', () => {});
  bullClients.push(connection);
  const events = new QueueEvents('webhooks', { connection, prefix: node.signet.keys.bullPrefix });
  await events.waitUntilReady();
  const site: Site = { node, org, owner, admin, ci, certificateId: certificate.id, buildSystemId: buildSystem.id, logs, outcomes: new Map(), events, onOutcome: new Set() };
  events.on('failed', ({ jobId, failedReason }) => {
    site.outcomes.set(jobId, { failed: true, reason: failedReason });
    for (const listener of [...site.onOutcome]) listener();
  });
  events.on('completed', ({ jobId }) => {
    site.outcomes.set(jobId, { failed: false, reason: '' });
    for (const listener of [...site.onOutcome]) listener();
  });
  return site;
}

beforeAll(async () => {
  artifactDir = tempDir('signet-ssrf-');
  idp = await startTestIssuer();
  stranger = await startTestIssuer();
  dns = await startDnsServer();
  victim = await listen('127.0.0.1', (req, res) => (req.url?.endsWith('/jwks') ? json(res, 200, idp.jwks) : json(res, 200, { thanks: true })));
  receiver = await listen('127.0.0.2', (req, res) => {
    const path = req.url ?? '/';
    if (path === '/jwks') return json(res, 200, idp.jwks);
    if (path === '/wrong-jwks') return json(res, 200, stranger.jwks);
    if (path === '/not-jwks') return json(res, 200, { hello: 'world' });
    if (path === '/redirect-jwks') return res.writeHead(302, { location: `${victim.origin}/jwks` }).end();
    if (path === '/redirect') return res.writeHead(307, { location: `${victim.origin}/hook` }).end();
    json(res, 200, { thanks: true });
  });
  strict = await startSite('');
  lenient = await startSite('127.0.0.2/32');
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const site of [strict, lenient]) {
    await site?.events.close();
    await site?.node.close();
  }
  for (const client of bullClients) client.disconnect();
  await Promise.all([victim?.close(), receiver?.close(), dns?.close(), idp?.close(), stranger?.close()]);
  removeDir(artifactDir);
});

/** Every form of an address the strict node must refuse, pointed at the victim's port where one matters. */
function refusedUrls(port: number): string[] {
  return [
    `http://[::ffff:127.0.0.1]:${port}/hook`,
    `http://[::ffff:7f00:1]:${port}/hook`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${port}/hook`,
    `http://[::ffff:169.254.169.254]/latest/meta-data/`,
    `http://[::ffff:0.0.0.0]:${port}/hook`,
    `http://[::127.0.0.1]:${port}/hook`,
    `http://[::ffff:0:127.0.0.1]:${port}/hook`,
    `http://[64:ff9b::7f00:1]:${port}/hook`,
    `http://[64:ff9b:1::7f00:1]:${port}/hook`,
    `http://[2002:7f00:1::]:${port}/hook`,
    // Teredo whose client (stored inverted) is 127.0.0.1.
    `http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:${port}/hook`,
    `http://127.0.0.1:${port}/hook`,
    `http://localhost:${port}/hook`,
    `http://localhost.:${port}/hook`,
    `http://foo.localhost:${port}/hook`,
    `http://FOO.LOCALHOST.:${port}/hook`,
    `http://2130706433:${port}/hook`,
    `http://0x7f.1:${port}/hook`,
    `http://0177.0.0.1:${port}/hook`,
    `http://127.1:${port}/hook`,
    `http://127.0.0.1.:${port}/hook`,
    `http://[::1]:${port}/hook`,
    `http://0.0.0.0:${port}/hook`,
    `http://0:${port}/hook`,
    'http://169.254.169.254/latest/meta-data/',
    'http://169.254.170.2/v2/credentials',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://100.100.100.200/latest/meta-data/',
    'http://[fe80::1]/',
    'http://224.0.0.1/',
    'http://255.255.255.255/',
    'http://192.0.2.1/',
    'http://10.1.2.3/hook',
    'http://172.16.0.1/hook',
    'http://192.168.1.10/hook',
    'http://100.64.0.1/hook',
    'http://[fd12:3456::1]/hook',
    `http://user:secret@hooks.example.com/hook`,
  ];
}

/** Waits until every one of the webhook delivery jobs has ended (the node tries once: SIGNET_WEBHOOK_ATTEMPTS=1). */
function outcomesOf(site: Site, jobIds: string[], timeoutMs = 30_000): Promise<Array<{ failed: boolean; reason: string }>> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!jobIds.every((id) => site.outcomes.has(id))) return;
      clearTimeout(timer);
      site.onOutcome.delete(check);
      resolve(jobIds.map((id) => site.outcomes.get(id)!));
    };
    const timer = setTimeout(() => {
      site.onOutcome.delete(check);
      reject(new Error(`${jobIds.filter((id) => !site.outcomes.has(id)).length} of ${jobIds.length} webhook jobs did not end within ${timeoutMs} ms`));
    }, timeoutMs);
    site.onOutcome.add(check);
    check();
  });
}

/** A project whose webhooks are created through webhook.create with `urls`; a completed request there calls them. */
async function projectWithHooks(site: Site, urls: string[]): Promise<{ slug: string; hookIds: string[] }> {
  const slug = `hooks-${randomBytes(3).toString('hex')}`;
  const project = await createProject(site.owner, slug);
  await createPolicy(site.owner, { projectId: project.id, slug: 'plain', certificateId: site.certificateId, submitters: [site.ci.userId] });
  const hookIds = [];
  for (const url of urls) hookIds.push((await must(site.owner, 'webhook.create', { projectId: project.id, url })).webhook.id as string);
  return { slug, hookIds };
}

/** Writes a stored record's field straight into Redis, as an attacker past the save-time check would. */
async function overwrite(site: Site, key: string, field: string, value: string): Promise<void> {
  const record = JSON.parse((await site.node.signet.redis.get(key))!);
  record[field] = value;
  await site.node.signet.redis.set(key, JSON.stringify(record));
}

/** Submits a request to the project's plain policy and waits until each webhook's delivery ended. */
async function deliver(site: Site, hooks: { slug: string; hookIds: string[] }) {
  const request = await submitOk(site.node, site.org.slug, site.ci.token, { projectSlug: hooks.slug, signingPolicySlug: 'plain', artifact: randomArtifact(), fileName: 'tool.zip' });
  return outcomesOf(site, hooks.hookIds.map((id) => `webhook-${id}-${request.id}-Completed`));
}

/** Points the build system at `jwksUrl` (straight in Redis) and submits a valid token; returns status and message. */
async function verifyWithKeysAt(site: Site, jwksUrl: string | null): Promise<{ status: number; message: string | undefined }> {
  if (jwksUrl !== null) await overwrite(site, site.node.signet.keys.buildSystem(site.buildSystemId), 'jwksUrl', jwksUrl);
  const token = await idp.sign({ iss: GITHUB_ISSUER, server_url: undefined });
  const response = await submitRequest(site.node, site.org.slug, site.ci.token, {
    projectSlug: 'widget',
    signingPolicySlug: 'verified',
    fields: { originToken: token },
    artifact: randomBytes(600),
    fileName: 'widget.exe',
  });
  return { status: response.status, message: response.body.error?.message };
}

function logLines(site: Site, message: string): Array<Record<string, any>> {
  return site.logs.map((line) => JSON.parse(line)).filter((entry) => entry.msg === message);
}

describe('outbound requests reach only public addresses and what an operator allows', () => {
  it('every refused form is refused when a webhook or JWKS URL is saved, without a word about what listens', async () => {
    const project = await createProject(strict.owner, 'saved-hooks');
    const urls = refusedUrls(victim.port);
    for (const [i, url] of urls.entries()) {
      const hook = await command(strict.owner, 'webhook.create', { projectId: project.id, url });
      expect(hook.error, url).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'url' }] });
      const keys = await command(strict.admin, 'buildSystem.create', { name: `CI ${i}`, issuer: `https://ci-${i}.example.com`, audience: 'signet', jwksUrl: url });
      expect(keys.error, url).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'jwksUrl' }] });
    }
    expect(await must(strict.owner, 'webhook.list', { projectId: project.id })).toEqual([]);
    expect((await must(strict.owner, 'buildSystem.list')).map((system: { id: string }) => system.id)).toEqual([strict.buildSystemId]);
    // Only http and https.
    for (const url of ['file:///etc/passwd', 'gopher://127.0.0.1:6379/_INFO', 'ftp://hooks.example.com/']) {
      expect((await command(strict.owner, 'webhook.create', { projectId: project.id, url })).error?.code, url).toBe('INVALID_INPUT');
    }
    // The same answer for an open and a closed port: saving connects to nothing.
    const open = await command(strict.owner, 'webhook.create', { projectId: project.id, url: `http://127.0.0.1:${victim.port}/hook` });
    const closed = await command(strict.owner, 'webhook.create', { projectId: project.id, url: `http://127.0.0.1:${await closedPort('127.0.0.1')}/hook` });
    expect(open.error?.message).toBe('url: the URL is not allowed: 127.0.0.1 is a loopback address');
    expect(closed.error?.message).toBe(open.error?.message);
    expect(victim.connections).toBe(0);
  });

  it('a refused webhook URL written straight into Redis is refused again when it is delivered to', async () => {
    const urls = refusedUrls(victim.port);
    const hooks = await projectWithHooks(strict, urls.map((_, i) => `https://hooks.example.com/${i}`));
    for (const [i, id] of hooks.hookIds.entries()) await overwrite(strict, strict.node.signet.keys.webhook(id), 'url', urls[i]!);
    const outcomes = await deliver(strict, hooks);
    expect(outcomes).toEqual(urls.map(() => ({ failed: true, reason: OUTBOUND_FAILED })));
    expect(victim.connections).toBe(0);
    expect(victim.requests).toEqual([]);
    // Refused before any connection, not failed after one: the log says which rule (and no path).
    const failures = logLines(strict, 'webhook delivery failed');
    for (const [i, id] of hooks.hookIds.entries()) {
      const entry = failures.find((line) => line.webhookId === id);
      expect(entry?.detail, urls[i]).toMatch(/refused before connecting/);
      expect(entry?.detail).not.toMatch(/\/hook\b|secret/);
    }
  });

  it('a refused JWKS URL written straight into Redis is refused again when a token is verified, with one neutral message', async () => {
    for (const url of refusedUrls(victim.port).map((url) => url.replace(/\/hook$/, '/jwks'))) {
      expect(await verifyWithKeysAt(strict, url), url).toEqual({ status: 403, message: NEUTRAL_JWKS });
    }
    expect(victim.connections).toBe(0);
  });

  it('DNS rebinding: a name that was public when saved and is loopback when used is refused at connect time', async () => {
    dns.answer('rebind-hook.test', [PUBLIC_ADDRESS, '127.0.0.1']);
    const hooks = await projectWithHooks(strict, [`http://rebind-hook.test:${victim.port}/hook`]);
    expect(dns.queries('rebind-hook.test')).toBe(1);
    expect(await deliver(strict, hooks)).toEqual([{ failed: true, reason: OUTBOUND_FAILED }]);
    expect(dns.queries('rebind-hook.test')).toBe(2);
    const [failure] = logLines(strict, 'webhook delivery failed').filter((line) => line.webhookId === hooks.hookIds[0]);
    expect(failure?.detail).toMatch(/rebind-hook\.test resolves to 127\.0\.0\.1, a loopback address/);

    dns.answer('rebind-keys.test', [PUBLIC_ADDRESS, '127.0.0.1']);
    await must(strict.admin, 'buildSystem.delete', { buildSystemId: strict.buildSystemId });
    const rebinding = await must(strict.admin, 'buildSystem.create', { name: KEYS_NAME, issuer: GITHUB_ISSUER, audience: idp.audience, jwksUrl: `http://rebind-keys.test:${victim.port}/jwks` });
    strict.buildSystemId = rebinding.id;
    expect(dns.queries('rebind-keys.test')).toBe(1);
    expect(await verifyWithKeysAt(strict, null)).toEqual({ status: 403, message: NEUTRAL_JWKS });
    expect(dns.queries('rebind-keys.test')).toBe(2);
    expect(victim.connections).toBe(0);
  });

  it('closed port, refused address, redirect, no JWKS and keys that do not match all read the same', async () => {
    const closed = await closedPort('127.0.0.2');
    const cases = [
      `${victim.origin}/jwks`, // refused (the victim has the right keys)
      `http://[::ffff:7f00:1]:${victim.port}/jwks`,
      `http://127.0.0.2:${closed}/jwks`, // nothing listens
      `${receiver.origin}/wrong-jwks`, // answers, with another issuer's keys
      `${receiver.origin}/not-jwks`, // answers, with no keys at all
      `${receiver.origin}/redirect-jwks`, // answers with a redirect to the victim
      'http://nothing.test/jwks', // does not resolve
    ];
    for (const url of cases) expect(await verifyWithKeysAt(lenient, url), url).toEqual({ status: 403, message: NEUTRAL_JWKS });
    // The same build system, pointed at the allowed receiver's real keys, verifies.
    expect((await verifyWithKeysAt(lenient, `${receiver.origin}/jwks`)).status).toBe(201);
    expect(receiver.requests.filter((request) => request.includes('jwks')).sort()).toEqual(
      ['GET /jwks', 'GET /not-jwks', 'GET /redirect-jwks', 'GET /wrong-jwks'],
    );
    expect(victim.connections).toBe(0);
  });

  it('a webhook receiver’s redirect to a refused address is not followed', async () => {
    const hooks = await projectWithHooks(lenient, [`${receiver.origin}/redirect`]);
    expect(await deliver(lenient, hooks)).toEqual([{ failed: true, reason: 'webhook answered 307' }]);
    expect(receiver.requests.filter((request) => request === 'POST /redirect')).toHaveLength(1);
    expect(victim.connections).toBe(0);
  });

  it('an allowed CIDR opens its range, by address and by name, and nothing more', async () => {
    dns.answer('receiver.test', ['127.0.0.2']);
    const hooks = await projectWithHooks(lenient, [`${receiver.origin}/by-address`, `http://receiver.test:${receiver.port}/by-name`]);
    expect(await deliver(lenient, hooks)).toEqual([{ failed: false, reason: '' }, { failed: false, reason: '' }]);
    expect(receiver.requests).toContain('POST /by-address');
    expect(receiver.requests).toContain('POST /by-name');
    // 127.0.0.1 stays refused on the lenient node; 127.0.0.2 and private ranges on the strict one.
    const project = await createProject(lenient.owner, 'still-refused');
    const loopback = await command(lenient.owner, 'webhook.create', { projectId: project.id, url: `${victim.origin}/hook` });
    expect(loopback.error?.issues).toEqual([{ path: 'url', message: 'the URL is not allowed: 127.0.0.1 is a loopback address' }]);
    const strictProject = await createProject(strict.owner, 'no-private');
    for (const [url, kind] of [
      [`${receiver.origin}/hook`, 'a loopback address'],
      ['http://10.1.2.3/hook', 'a private address'],
      ['http://100.64.0.1/hook', 'a carrier-grade NAT address'],
      ['http://[fd12:3456::1]/hook', 'a unique-local address'],
    ] as const) {
      const refused = await command(strict.owner, 'webhook.create', { projectId: strictProject.id, url });
      expect(refused.error?.issues?.[0]?.message, url).toMatch(new RegExp(`is ${kind}$`));
    }
    // A name that resolves to a refused address is refused when saved, too.
    dns.answer('inside.test', ['10.9.8.7']);
    const inside = await command(strict.owner, 'webhook.create', { projectId: strictProject.id, url: 'https://inside.test/hook' });
    expect(inside.error?.issues).toEqual([{ path: 'url', message: 'the URL is not allowed: inside.test resolves to a private address' }]);
    expect(victim.connections).toBe(0);
  });
});
