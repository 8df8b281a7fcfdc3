// What the server publishes is what it sends: every command (over REST and Socket.IO) and every REST
// endpoint is called live, and each answer is validated (ajv, JSON Schema 2020-12) against the
// schema the live GET /api/v1/openapi.json gives for that operation and status. Objects there admit
// no undocumented field, so a field added to an answer and not to its schema fails here, as does a
// field documented and not sent. The last test insists that no operation of the document went unchecked.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { createOrganization, ensureSetupToken } from '../../../server/auth/organizations.js';
import { sealAuditChain } from '../../../server/audit/chain.js';
import { CLI_SOURCE } from '../../../server/audit/entries.js';
import { COMMAND_NAMES, type CommandName } from '../../../src/lib/shared/commands.js';
import { command, connect, http, OPERATOR, ORIGIN, restCommand, signIn, startNode, testConfig } from '../../helpers/signet.js';
import { buildFixture, EXAMPLES, type SecurityFixture, type Who } from '../security/fixture.js';

// ajv-formats is CommonJS: its default export arrives wrapped.
const addFormats = (addFormatsModule as unknown as { default: typeof addFormatsModule }).default ?? addFormatsModule;

type Method = 'get' | 'post';
interface OpenApiDocument {
  paths: Record<string, Partial<Record<Method, { operationId: string; responses: Record<string, { content?: Record<string, { schema?: object }> }> }>>>;
  components: object;
}

let node: SignetNode;
let fx: SecurityFixture;
let artifactDir: string;
let document: OpenApiDocument;
let owner: Who;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();
/** `METHOD path` of every operation an answer was checked for. */
const checked = new Set<string>();

/** The schema the document gives for an operation's answer (its path as the document spells it). */
function schemaOf(method: Method, documentPath: string, status: number, contentType = 'application/json'): ValidateFunction {
  const key = `${method} ${documentPath} ${status} ${contentType}`;
  let validate = compiled.get(key);
  if (!validate) {
    const schema = document.paths[documentPath]?.[method]?.responses[String(status)]?.content?.[contentType]?.schema;
    if (!schema) throw new Error(`the document has no ${contentType} schema for ${key}`);
    // The operation's schema, with the document's components beside it for its $refs to resolve.
    validate = ajv.compile({ ...schema, components: document.components });
    compiled.set(key, validate);
  }
  return validate;
}

/** Validates one live answer against the document; the failure names every field that differs. */
function expectPublished(method: Method, documentPath: string, status: number, body: unknown, contentType?: string): void {
  const validate = schemaOf(method, documentPath, status, contentType);
  const valid = validate(body);
  const problems = (validate.errors ?? []).map((error) => `${error.instancePath || '(answer)'} ${error.message} ${JSON.stringify(error.params)}`);
  expect(valid, `${method.toUpperCase()} ${documentPath} ${status}:\n${problems.join('\n')}\n${JSON.stringify(body).slice(0, 2000)}`).toBe(true);
  checked.add(`${method} ${documentPath}`);
}

/** A binary or text answer: the document names its content type. */
function expectPublishedType(method: Method, documentPath: string, status: number, response: Response): void {
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!;
  const documented = Object.keys(document.paths[documentPath]?.[method]?.responses[String(status)]?.content ?? {});
  expect(documented, `${method.toUpperCase()} ${documentPath} ${status} answered ${contentType}`).toContain(contentType);
  checked.add(`${method} ${documentPath}`);
}

const commandPath = (name: string) => `/api/v1/commands/${name}`;

beforeAll(async () => {
  artifactDir = await mkdtemp(path.join(os.tmpdir(), 'signet-schemas-'));
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_RATE_LIMIT_PER_MINUTE: '100000000' }));
  fx = await buildFixture(node);
  owner = { userId: fx.people.owner.userId, permissions: new Set((await fx.asOwner('me.get')).permissions) };
  const response = await fetch(`${node.url}/api/v1/openapi.json`);
  expect(response.status).toBe(200);
  document = (await response.json()) as OpenApiDocument;
  checked.add('get /api/v1/openapi.json');
  // A signed checkpoint exists once the sealer has run: seal now rather than wait for it.
  await sealAuditChain(node.signet.redis, node.signet.keys, node.signet.auditKey, fx.org.orgId, node.signet.config.publicUrl);
});

afterAll(async () => {
  fx?.close();
  await node?.close();
  if (artifactDir) await rm(artifactDir, { recursive: true, force: true });
});

describe('every command answers as its published result schema', () => {
  /** org.delete ends an organization: each run gets one of its own. */
  async function throwawayOrganization() {
    const slug = fx.unique('doomed-org');
    const password = 'correct horse battery staple';
    await createOrganization(node.signet, { orgSlug: slug, orgName: 'Doomed', ownerEmail: `owner@${slug}.example.com`, ownerName: 'Dora Doomed', ownerPassword: password }, OPERATOR, CLI_SOURCE);
    return { slug, cookie: await signIn(node, { email: `owner@${slug}.example.com`, password }) };
  }

  it.each(COMMAND_NAMES)('%s, over Socket.IO and over REST', async (name: CommandName) => {
    if (name === 'org.delete') {
      const overSocket = await throwawayOrganization();
      const socket = await connect(node, { cookie: overSocket.cookie });
      const ack = await command(socket, name, { confirmSlug: overSocket.slug });
      socket.close();
      expect(ack.error).toBeUndefined();
      expectPublished('post', commandPath(name), 200, ack);
      const overRest = await throwawayOrganization();
      const answer = await restCommand(node, name, { confirmSlug: overRest.slug }, { cookie: overRest.cookie });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expectPublished('post', commandPath(name), 200, answer.body);
      return;
    }
    // Each transport gets an example of its own (many examples make what they then change).
    const ack = await command(fx.people.owner.socket, name, await EXAMPLES[name](fx, owner));
    expect(ack.error, name).toBeUndefined();
    expectPublished('post', commandPath(name), 200, ack);
    const answer = await restCommand(node, name, await EXAMPLES[name](fx, owner), { cookie: fx.people.owner.cookie });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expectPublished('post', commandPath(name), 200, answer.body);
  });

  it('refusals answer the published error envelope, over REST with their status', async () => {
    const refused: Array<[CommandName, unknown, { cookie?: string }, number]> = [
      ['project.get', { projectId: 42 }, { cookie: fx.people.owner.cookie }, 400],
      ['project.get', { projectId: fx.standing.projectId }, {}, 401],
      ['project.create', { slug: fx.unique('nope'), name: 'Nope' }, { cookie: fx.people.viewer.cookie }, 403],
      ['project.get', { projectId: 'no-such-project' }, { cookie: fx.people.owner.cookie }, 404],
      // A version other than the stored one is stale.
      ['org.update', { name: 'Stale', version: (await fx.asOwner('org.get')).version + 1 }, { cookie: fx.people.owner.cookie }, 409],
    ];
    for (const [name, input, auth, status] of refused) {
      const answer = await restCommand(node, name, input, auth);
      expect(answer.status, `${name} ${JSON.stringify(answer.body)}`).toBe(status);
      expectPublished('post', commandPath(name), status, answer.body);
      // The same refusal over the socket of whoever the cookie signs in (a socket always has someone).
      const person = Object.values(fx.people).find((p) => p.cookie === auth.cookie);
      if (person) expectPublished('post', commandPath(name), status, await command(person.socket, name, input));
    }
  });
});

describe('every REST endpoint answers as published', () => {
  const org = () => fx.org.slug;
  const ownerToken = () => fx.submitTokenOf(fx.people.owner.userId)!;
  const bearer = () => ({ authorization: `Bearer ${ownerToken()}` });
  const artifact = () => new Blob([new TextEncoder().encode(`artifact ${fx.unique('a')}\n`)], { type: 'application/octet-stream' });

  it('the signing API: submit, read, download, re-submit', async () => {
    const form = new FormData();
    form.append('projectSlug', fx.standing.projectSlug);
    form.append('signingPolicySlug', fx.standing.policySlug);
    form.append('parameters[build]', '42');
    form.append('artifact', artifact(), 'app.bin');
    const submitted = await fetch(`${node.url}/api/v1/orgs/${org()}/signing-requests`, { method: 'POST', headers: bearer(), body: form });
    expect(submitted.status).toBe(201);
    const created = await submitted.json();
    expectPublished('post', '/api/v1/orgs/{org}/signing-requests', 201, created);

    const read = await fetch(`${node.url}/api/v1/orgs/${org()}/signing-requests/${created.id}`, { headers: bearer() });
    expect(read.status).toBe(200);
    expectPublished('get', '/api/v1/orgs/{org}/signing-requests/{id}', 200, await read.json());

    const completed = await fetch(`${node.url}/api/v1/orgs/${org()}/signing-requests/${fx.standing.completedRequestId}`, { headers: bearer() });
    expectPublished('get', '/api/v1/orgs/{org}/signing-requests/{id}', 200, await completed.json());

    const signed = await fetch(`${node.url}/api/v1/orgs/${org()}/signing-requests/${fx.standing.completedRequestId}/signed-artifact`, { headers: bearer() });
    expect(signed.status).toBe(200);
    expectPublishedType('get', '/api/v1/orgs/{org}/signing-requests/{id}/signed-artifact', 200, signed);
    await signed.arrayBuffer();

    const unsigned = await fetch(`${node.url}/api/v1/orgs/${org()}/signing-requests/${created.id}/unsigned-artifact`, { headers: bearer() });
    expect(unsigned.status).toBe(200);
    expectPublishedType('get', '/api/v1/orgs/{org}/signing-requests/{id}/unsigned-artifact', 200, unsigned);
    await unsigned.arrayBuffer();

    const final = await fx.finalRequest(fx.people.owner.userId);
    const resubmitted = await fetch(`${node.url}/api/v1/orgs/${org()}/signing-requests/${final}/resubmit`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'again' }),
    });
    expect(resubmitted.status).toBe(201);
    expectPublished('post', '/api/v1/orgs/{org}/signing-requests/{id}/resubmit', 201, await resubmitted.json());

    const missing = await fetch(`${node.url}/api/v1/orgs/${org()}/signing-requests/no-such-request`, { headers: bearer() });
    expect(missing.status).toBe(404);
    expectPublished('get', '/api/v1/orgs/{org}/signing-requests/{id}', 404, await missing.json());
  });

  it("the SignPath-compatible API: submit, read, download, re-submit", async () => {
    const base = `${node.url}/api/v1/${fx.org.orgId}/SigningRequests`;
    const form = new FormData();
    form.append('ProjectSlug', fx.standing.projectSlug);
    form.append('SigningPolicySlug', fx.standing.policySlug);
    form.append('Artifact', artifact(), 'app.bin');
    const submitted = await fetch(base, { method: 'POST', headers: bearer(), body: form });
    expect(submitted.status).toBe(201);
    const created = await submitted.json();
    expectPublished('post', '/api/v1/{organizationId}/SigningRequests', 201, created);

    const read = await fetch(`${base}/${fx.standing.completedRequestId}`, { headers: bearer() });
    expect(read.status).toBe(200);
    expectPublished('get', '/api/v1/{organizationId}/SigningRequests/{id}', 200, await read.json());

    const signed = await fetch(`${base}/${fx.standing.completedRequestId}/SignedArtifact`, { headers: bearer() });
    expect(signed.status).toBe(200);
    expectPublishedType('get', '/api/v1/{organizationId}/SigningRequests/{id}/SignedArtifact', 200, signed);
    await signed.arrayBuffer();
    const unsigned = await fetch(`${base}/${created.id}/UnsignedArtifact`, { headers: bearer() });
    expect(unsigned.status).toBe(200);
    expectPublishedType('get', '/api/v1/{organizationId}/SigningRequests/{id}/UnsignedArtifact', 200, unsigned);
    await unsigned.arrayBuffer();

    const resubmit = new FormData();
    resubmit.append('OriginalSigningRequestId', await fx.finalRequest(fx.people.owner.userId));
    const resubmitted = await fetch(`${base}/Resubmit`, { method: 'POST', headers: bearer(), body: resubmit });
    expect(resubmitted.status).toBe(201);
    expectPublished('post', '/api/v1/{organizationId}/SigningRequests/Resubmit', 201, await resubmitted.json());
  });

  it('the audit export, one published entry per line, and its signed checkpoint', async () => {
    const exported = await fetch(`${node.url}/api/v1/orgs/${org()}/audit?limit=500`, { headers: { cookie: fx.people.owner.cookie, origin: ORIGIN } });
    expect(exported.status).toBe(200);
    const lines = (await exported.text()).trim().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expectPublished('get', '/api/v1/orgs/{org}/audit', 200, JSON.parse(line), 'application/x-ndjson');

    const checkpoint = await fetch(`${node.url}/api/v1/orgs/${org()}/audit/checkpoint`, { headers: { cookie: fx.people.owner.cookie, origin: ORIGIN } });
    expect(checkpoint.status).toBe(200);
    expectPublishedType('get', '/api/v1/orgs/{org}/audit/checkpoint', 200, checkpoint);
    expectPublished('get', '/api/v1/orgs/{org}/audit/checkpoint', 200, await checkpoint.text(), 'text/plain');
  });

  it('sign-in, the session, invitations, sign-out', async () => {
    const login = await http(node, 'POST', '/api/v1/auth/login', { body: { email: fx.people.admin.email, password: fx.people.admin.password } });
    expect(login.status).toBe(200);
    expectPublished('post', '/api/v1/auth/login', 200, login.body);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

    const session = await http(node, 'GET', '/api/v1/auth/session', { cookie });
    expect(session.status).toBe(200);
    expectPublished('get', '/api/v1/auth/session', 200, session.body);
    const nobody = await http(node, 'GET', '/api/v1/auth/session', {});
    expect(nobody.status).toBe(401);
    expectPublished('get', '/api/v1/auth/session', 401, nobody.body);

    const wrong = await http(node, 'POST', '/api/v1/auth/login', { body: { email: fx.people.admin.email, password: 'not the password at all' } });
    expect(wrong.status).toBe(401);
    expectPublished('post', '/api/v1/auth/login', 401, wrong.body);

    const { inviteLink } = await fx.asOwner('member.invite', { email: `${fx.unique('joiner')}@example.com`, role: 'viewer' });
    const token = new URL(inviteLink).searchParams.get('token');
    const accepted = await http(node, 'POST', '/api/v1/auth/accept-invite', { body: { token, name: 'Jo Joiner', password: 'a long enough password' } });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expectPublished('post', '/api/v1/auth/accept-invite', 200, accepted.body);

    const logout = await http(node, 'POST', '/api/v1/auth/logout', { cookie });
    expect(logout.status).toBe(200);
    expectPublished('post', '/api/v1/auth/logout', 200, logout.body);
  });

  it('first-run setup', async () => {
    const status = await http(node, 'GET', '/api/v1/setup');
    expect(status.status).toBe(200);
    expectPublished('get', '/api/v1/setup', 200, status.body);
    // A fresh instance (its own key prefix): the setup link's token creates the first organization.
    const fresh = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir }));
    try {
      const token = await ensureSetupToken(fresh.signet);
      const slug = fx.unique('first-org');
      const done = await http(fresh, 'POST', '/api/v1/setup', {
        body: { token, orgSlug: slug, orgName: 'First', ownerEmail: `owner@${slug}.example.com`, ownerName: 'Fay First', ownerPassword: 'a long enough password' },
      });
      expect(done.status, JSON.stringify(done.body)).toBe(201);
      expectPublished('post', '/api/v1/setup', 201, done.body);
    } finally {
      await fresh.close();
    }
  });

  it('the published documents, health, readiness and metrics', async () => {
    for (const [documentPath, contentType] of [
      ['/api/v1/protocol.json', 'application/json'],
      ['/healthz', 'application/json'],
      ['/readyz', 'application/json'],
      ['/metrics', 'text/plain'],
    ] as const) {
      const response = await fetch(`${node.url}${documentPath}`);
      expect(response.status, documentPath).toBe(200);
      expectPublishedType('get', documentPath, 200, response);
      const body = contentType === 'application/json' ? await response.json() : await response.text();
      expectPublished('get', documentPath, 200, body, contentType);
    }
  });

  it('the protocol document carries each command with its permission, input and result', async () => {
    const protocol = await (await fetch(`${node.url}/api/v1/protocol.json`)).json();
    expect(protocol.commands.map((c: { name: string }) => c.name)).toEqual(COMMAND_NAMES);
    const describesSomething = (schema: object) => ['type', 'anyOf', 'oneOf', '$ref'].some((keyword) => keyword in schema);
    for (const declared of protocol.commands) {
      expect(describesSomething(declared.input), `${declared.name} input`).toBe(true);
      expect(describesSomething(declared.result), `${declared.name} result`).toBe(true);
    }
    expect(Object.keys(protocol.entities)).toContain('signingRequest');
  });
});

describe('the document', () => {
  it('leaves no operation unchecked against a live answer', () => {
    const operations = Object.entries(document.paths).flatMap(([documentPath, item]) => Object.keys(item).map((method) => `${method} ${documentPath}`));
    expect(operations.filter((operation) => !checked.has(operation))).toEqual([]);
  });
});
