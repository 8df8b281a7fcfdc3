// The REST API for CI (SPEC §8) on a live node: multipart submission with Idempotency-Key, artifact
// limits, permission checks (denials audited), status, downloads verified with openssl, re-submit,
// the audit log as NDJSON and the OpenAPI document.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditLog, http, ORIGIN, seedOrg, signIn, testConfig, type TestOrg } from '../../helpers/signet.js';
import {
  createPolicy,
  createSigningProject,
  getWithToken,
  jsonOrText,
  must,
  requestDirs,
  submitRequest,
  verifyWithOpenssl,
  waitForFinal,
  type SigningProject,
  type SubmitInput,
} from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

interface Upload {
  fileName: string;
  data: Buffer;
}

let artifactDir: string;
const fx = useSignet({
  config: () => {
    artifactDir = fx.tempDir('signet-rest-artifacts-');
    return testConfig({ SIGNET_ARTIFACT_DIR: artifactDir });
  },
});
const { as, open } = fx;
let otherOrg: TestOrg;
let fixture: SigningProject;
let ci: { userId: string; token: string };
let memberSubmitToken: string;
let memberReadToken: string;
let viewerCiToken: string;
let otherOrgToken: string;
let adminAuditToken: string;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const artifact = (size = 4096, fileName = 'app.bin'): Upload => ({ fileName, data: randomBytes(size) });
const api = (path = '') => `/api/v1/orgs/${fx.org.slug}${path}`;

/** Every request of the organization, through the command (newest first). */
async function allRequests(): Promise<any[]> {
  const { requests } = await must(as.owner, 'request.list', { limit: 200 });
  return requests;
}

/** Submits to the fixture project as the CI user; the usual fields unless overridden. */
function submitAsCi(
  fields: Record<string, string | undefined> = {},
  upload: Upload | null = artifact(),
  options: Pick<SubmitInput, 'parameters' | 'idempotencyKey' | 'fileFirst'> = {},
  token = ci.token,
) {
  return submitRequest(fx.node, fx.org.slug, token, {
    fields: { projectSlug: fixture.project.slug, signingPolicySlug: 'test-signing', ...fields },
    artifact: upload?.data ?? null,
    fileName: upload?.fileName,
    ...options,
  });
}

/** The error envelope of a refused call: status, code and the fields its issues name. */
function refusal(response: { status: number; body: any }) {
  return {
    status: response.status,
    code: response.body?.error?.code,
    fields: (response.body?.error?.issues ?? []).map((issue: { path: string }) => issue.path),
  };
}

/** Audit entries after `seq` that people and keys caused (the signing worker audits on its own schedule). */
async function entriesAfter(seq: number) {
  return (await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.seq > seq && entry.actor.type !== 'system');
}

/** Asserts a refusal left no request and no file behind. */
async function expectNothingLeft(before: { requests: number; dirs: string[] }) {
  expect((await allRequests()).length).toBe(before.requests);
  expect(requestDirs(artifactDir, fx.org.orgId)).toEqual(before.dirs);
}

async function state() {
  return { requests: (await allRequests()).length, dirs: requestDirs(artifactDir, fx.org.orgId) };
}

beforeAll(async () => {
  otherOrg = await seedOrg(fx.node);

  fixture = await createSigningProject(as.owner, { slug: 'widget' });
  const created = await must(as.owner, 'ciUser.create', { name: 'Build Bot' });
  ci = { userId: created.ciUser.userId, token: created.token };
  const viewerCi = await must(as.owner, 'ciUser.create', { name: 'Read-only Bot', role: 'viewer' });
  viewerCiToken = viewerCi.token;

  const member = fx.org.users.member.userId;
  const admin = fx.org.users.admin.userId;
  await createPolicy(as.owner, { projectId: fixture.project.id, certificateId: fixture.certificate.id, slug: 'test-signing', submitters: [member, ci.userId], approvers: [admin], requiredApprovals: 0 });
  await createPolicy(as.owner, { projectId: fixture.project.id, certificateId: fixture.certificate.id, slug: 'release-signing', submitters: [member, ci.userId], approvers: [admin], requiredApprovals: 1 });
  await createPolicy(as.owner, { projectId: fixture.project.id, certificateId: fixture.certificate.id, slug: 'ci-only', submitters: [ci.userId], approvers: [admin], requiredApprovals: 0 });

  memberSubmitToken = (await must(as.member, 'apiKey.create', { name: 'member submit', permissions: ['signing:read', 'signing:submit'] })).token;
  memberReadToken = (await must(as.member, 'apiKey.create', { name: 'member read', permissions: ['signing:read'] })).token;
  adminAuditToken = (await must(as.admin, 'apiKey.create', { name: 'audit export', permissions: ['audit:read', 'signing:read'] })).token;

  const otherOwner = await open({ cookie: await signIn(fx.node, otherOrg.users.owner) });
  otherOrgToken = (await must(otherOwner, 'ciUser.create', { name: 'Other Bot' })).token;
});

describe('POST /api/v1/orgs/{org}/signing-requests', () => {
  it('creates a request from a CI user\'s upload: 201, Location = links.self, the request as JSON', async () => {
    const upload = artifact(5000, 'widget-setup.exe');
    const response = await submitAsCi({ description: 'nightly build' }, upload, { parameters: { version: '1.2.3', channel: 'beta' } });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const body = response.body;
    expect(body.id).toMatch(/^sr_/);
    expect(response.headers.get('location')).toBe(body.links.self);
    expect(body.links.self).toBe(`${ORIGIN}/api/v1/orgs/${fx.org.slug}/signing-requests/${body.id}`);
    expect(body).toMatchObject({
      status: expect.any(String),
      workflowStatus: expect.any(String),
      isFinalStatus: false,
      projectSlug: 'widget',
      signingPolicySlug: 'test-signing',
      artifactConfigurationSlug: 'default',
      artifact: { fileName: 'widget-setup.exe', size: 5000, sha256: sha256(upload.data) },
      description: 'nightly build',
      parameters: { version: '1.2.3', channel: 'beta' },
      origin: null,
      approvals: [],
      submitter: { id: ci.userId, name: 'Build Bot' },
      links: { self: expect.any(String), unsignedArtifact: `${body.links.self}/unsigned-artifact`, resubmit: `${body.links.self}/resubmit` },
    });
    expect(['QueuedForProcessing', 'Processing', 'Completed']).toContain(body.workflowStatus);
    expect(body).toHaveProperty('isFinalStatus');

    // The console sees the same request.
    const { request } = await must(as.admin, 'request.get', { requestId: body.id });
    expect(request).toMatchObject({ id: body.id, submitterId: ci.userId, parameters: { version: '1.2.3', channel: 'beta' } });
  });

  it('a repeated Idempotency-Key returns the same request (200) and creates only one; keys are scoped per API key', async () => {
    const key = `build-${randomUUID()}`;
    const before = (await allRequests()).length;
    const upload = artifact(3000);

    const first = await submitAsCi({}, upload, { idempotencyKey: key });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const second = await submitAsCi({}, upload, { idempotencyKey: key });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('location')).toBe(first.body.links.self);
    expect((await allRequests()).length).toBe(before + 1);

    // Another key: another request.
    const third = await submitAsCi({}, upload, { idempotencyKey: `build-${randomUUID()}` });
    expect(third.status).toBe(201);
    expect(third.body.id).not.toBe(first.body.id);

    // The same key under another API key is another scope: a request of its own.
    const member = await submitAsCi({}, upload, { idempotencyKey: key }, memberSubmitToken);
    expect(member.status, JSON.stringify(member.body)).toBe(201);
    expect(member.body.id).not.toBe(first.body.id);
    expect(member.body.submitter.id).toBe(fx.org.users.member.userId);
    expect((await allRequests()).length).toBe(before + 3);
  });

  it('two concurrent uploads with one Idempotency-Key create one request and both answer with it', async () => {
    const key = `race-${randomUUID()}`;
    const before = await state();
    const upload = artifact(200_000);
    const answers = await Promise.all([submitAsCi({}, upload, { idempotencyKey: key }), submitAsCi({}, upload, { idempotencyKey: key })]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 201]);
    expect(answers[0]!.body.id).toBe(answers[1]!.body.id);
    expect((await allRequests()).length).toBe(before.requests + 1);
    // The loser's upload was discarded: only the winner's files are kept.
    expect(requestDirs(artifactDir, fx.org.orgId)).toEqual([...before.dirs, answers[0]!.body.id].sort());
  });

  it('an Idempotency-Key whose submission was refused stays free for the corrected submission', async () => {
    const key = `retry-${randomUUID()}`;
    const refused = await submitAsCi({ signingPolicySlug: 'no-such-policy' }, artifact(), { idempotencyKey: key });
    expect(refusal(refused)).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['signingPolicySlug'] });
    const accepted = await submitAsCi({}, artifact(), { idempotencyKey: key });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
  });

  it('refuses an Idempotency-Key that is not printable ASCII without spaces, naming the header', async () => {
    const before = await state();
    const response = await submitAsCi({}, artifact(), { idempotencyKey: 'two words' });
    expect(refusal(response)).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['Idempotency-Key'] });
    await expectNothingLeft(before);
  });

  describe('artifact limits of the artifact configuration', () => {
    beforeAll(async () => {
      await must(as.owner, 'artifactConfig.create', { projectId: fixture.project.id, slug: 'small', name: 'Small files', maxSizeBytes: 1000 });
      await must(as.owner, 'artifactConfig.create', { projectId: fixture.project.id, slug: 'exe-only', name: 'Windows executables', fileNamePattern: '*.exe' });
    });

    it('a file over maxSizeBytes (fields first) → 400 INVALID_INPUT naming artifact; no file kept, no request', async () => {
      const before = await state();
      const response = await submitAsCi({ artifactConfigurationSlug: 'small' }, artifact(2000));
      expect(refusal(response)).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['artifact'] });
      expect(response.body.error.message).toMatch(/1000/);
      await expectNothingLeft(before);
    });

    it('a file over maxSizeBytes sent before the fields is refused the same way', async () => {
      const before = await state();
      const response = await submitAsCi({ artifactConfigurationSlug: 'small' }, artifact(2000), { fileFirst: true });
      expect(refusal(response)).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['artifact'] });
      await expectNothingLeft(before);
    });

    it('a large upload over the limit is refused without being stored (the connection is not left hanging)', async () => {
      const before = await state();
      const response = await submitAsCi({ artifactConfigurationSlug: 'small' }, artifact(3 * 1024 * 1024));
      expect(refusal(response)).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['artifact'] });
      await expectNothingLeft(before);
    });

    it('a file at the limit is accepted', async () => {
      const response = await submitAsCi({ artifactConfigurationSlug: 'small' }, artifact(1000));
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      expect(response.body).toMatchObject({ artifactConfigurationSlug: 'small', artifact: { size: 1000 } });
    });

    it('a file name that does not match the pattern → INVALID_INPUT naming artifact', async () => {
      const before = await state();
      const response = await submitAsCi({ artifactConfigurationSlug: 'exe-only' }, artifact(100, 'app.bin'));
      expect(refusal(response)).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['artifact'] });
      expect(response.body.error.message).toContain('*.exe');
      await expectNothingLeft(before);
      const matching = await submitAsCi({ artifactConfigurationSlug: 'exe-only' }, artifact(100, 'app.exe'));
      expect(matching.status, JSON.stringify(matching.body)).toBe(201);
    });
  });

  describe('invalid submissions name the field and change nothing', () => {
    it('missing file → artifact', async () => {
      const before = await state();
      expect(refusal(await submitAsCi({}, null))).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['artifact'] });
      await expectNothingLeft(before);
    });

    it('missing projectSlug → projectSlug', async () => {
      const before = await state();
      const response = await submitAsCi({ projectSlug: undefined });
      expect(refusal(response)).toMatchObject({ status: 400, code: 'INVALID_INPUT' });
      expect(refusal(response).fields).toContain('projectSlug');
      await expectNothingLeft(before);
    });

    it('unknown project → projectSlug; unknown policy → signingPolicySlug; unknown configuration → artifactConfigurationSlug', async () => {
      const before = await state();
      expect(refusal(await submitAsCi({ projectSlug: 'no-such-project' }))).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['projectSlug'] });
      expect(refusal(await submitAsCi({ signingPolicySlug: 'no-such-policy' }))).toEqual({ status: 400, code: 'INVALID_INPUT', fields: ['signingPolicySlug'] });
      expect(refusal(await submitAsCi({ artifactConfigurationSlug: 'no-such-config' }))).toEqual({
        status: 400,
        code: 'INVALID_INPUT',
        fields: ['artifactConfigurationSlug'],
      });
      // The same with the file first, when the slugs are only read after the upload.
      expect(refusal(await submitAsCi({ projectSlug: 'no-such-project' }, artifact(), { fileFirst: true }))).toEqual({
        status: 400,
        code: 'INVALID_INPUT',
        fields: ['projectSlug'],
      });
      expect(refusal(await submitAsCi({ signingPolicySlug: 'no-such-policy' }, artifact(), { fileFirst: true }))).toEqual({
        status: 400,
        code: 'INVALID_INPUT',
        fields: ['signingPolicySlug'],
      });
      await expectNothingLeft(before);
    });

    it('a body that is not multipart → INVALID_INPUT', async () => {
      const before = await state();
      const response = await http(fx.node, 'POST', api('/signing-requests'), {
        token: ci.token,
        origin: null,
        body: { projectSlug: 'widget', signingPolicySlug: 'test-signing' },
      });
      expect(response.status).toBe(400);
      expect(response.body.error?.code).toBe('INVALID_INPUT');
      expect(response.body.error?.issues?.[0]?.path).toBe('body');
      await expectNothingLeft(before);
    });
  });

  describe('permissions', () => {
    it('a key without signing:submit → 403 FORBIDDEN, audited as denied', async () => {
      const before = await state();
      const seqBefore = (await auditLog(fx.node, fx.org.orgId)).at(-1)!.seq;
      const response = await submitAsCi({}, artifact(), {}, memberReadToken);
      expect(refusal(response)).toEqual({ status: 403, code: 'FORBIDDEN', fields: [] });
      const denial = await entriesAfter(seqBefore);
      expect(denial).toHaveLength(1);
      expect(denial[0]).toMatchObject({ action: 'request.submit', actor: { type: 'apiKey', name: 'member read' }, source: { via: 'rest' } });
      await expectNothingLeft(before);
    });

    it('a viewer CI user (no signing:submit by role) → 403 FORBIDDEN, audited as denied', async () => {
      const before = await state();
      const seqBefore = (await auditLog(fx.node, fx.org.orgId)).at(-1)!.seq;
      expect(refusal(await submitAsCi({}, artifact(), {}, viewerCiToken))).toEqual({ status: 403, code: 'FORBIDDEN', fields: [] });
      const denial = await entriesAfter(seqBefore);
      expect(denial.map((entry) => [entry.action, entry.actor.type, entry.actor.name])).toEqual([['request.submit', 'ciUser', 'Read-only Bot']]);
      await expectNothingLeft(before);
    });

    it('a member who is not a submitter of the policy → 403 FORBIDDEN, audited as denied', async () => {
      const before = await state();
      const seqBefore = (await auditLog(fx.node, fx.org.orgId)).at(-1)!.seq;
      const response = await submitAsCi({ signingPolicySlug: 'ci-only' }, artifact(), {}, memberSubmitToken);
      expect(refusal(response)).toEqual({ status: 403, code: 'FORBIDDEN', fields: [] });
      expect(response.body.error.message).toContain('ci-only');
      const denial = await entriesAfter(seqBefore);
      expect(denial.map((entry) => entry.action)).toEqual(['request.submit']);
      await expectNothingLeft(before);
    });

    it('the same refusal when the file comes before the fields: one 403, one audit entry, no file kept', async () => {
      const before = await state();
      const seqBefore = (await auditLog(fx.node, fx.org.orgId)).at(-1)!.seq;
      const response = await submitAsCi({ signingPolicySlug: 'ci-only' }, artifact(), { fileFirst: true }, memberSubmitToken);
      expect(refusal(response)).toEqual({ status: 403, code: 'FORBIDDEN', fields: [] });
      const denial = await entriesAfter(seqBefore);
      expect(denial.map((entry) => [entry.action, entry.outcome])).toEqual([['request.submit', 'denied']]);
      await expectNothingLeft(before);
    });

    it('an inactive project → 409 CONFLICT', async () => {
      const legacy = await createSigningProject(as.owner, { slug: 'legacy' });
      await createPolicy(as.owner, { projectId: legacy.project.id, certificateId: legacy.certificate.id, slug: 'test-signing', submitters: [ci.userId] });
      await must(as.owner, 'project.update', { projectId: legacy.project.id, version: legacy.project.version, status: 'inactive' });
      const before = await state();
      const response = await submitAsCi({ projectSlug: 'legacy' });
      expect(refusal(response)).toEqual({ status: 409, code: 'CONFLICT', fields: [] });
      await expectNothingLeft(before);
    });

    it('a key of another organization → 404 NOT_FOUND for this organization\'s path', async () => {
      const before = await state();
      expect(refusal(await submitAsCi({}, artifact(), {}, otherOrgToken))).toEqual({ status: 404, code: 'NOT_FOUND', fields: [] });
      const read = await getWithToken(fx.node, api(`/signing-requests/${(await allRequests())[0].id}`), otherOrgToken);
      expect(read.status).toBe(404);
      await expectNothingLeft(before);
    });

    it('no token → 401; a revoked key → 401', async () => {
      const before = await state();
      const anonymous = await submitRequest(fx.node, fx.org.slug, undefined, { projectSlug: 'widget', signingPolicySlug: 'test-signing', artifact: artifact().data });
      expect(refusal(anonymous)).toEqual({ status: 401, code: 'UNAUTHENTICATED', fields: [] });

      const { apiKey, token } = await must(as.member, 'apiKey.create', { name: 'short-lived', permissions: ['signing:read', 'signing:submit'] });
      const used = await submitAsCi({}, artifact(), {}, token);
      expect(used.status, JSON.stringify(used.body)).toBe(201);
      await must(as.member, 'apiKey.revoke', { keyId: apiKey.id });
      const afterRevocation = await state();
      expect(afterRevocation.requests).toBe(before.requests + 1);
      expect(refusal(await submitAsCi({}, artifact(), {}, token))).toEqual({ status: 401, code: 'UNAUTHENTICATED', fields: [] });
      expect((await getWithToken(fx.node, api(`/signing-requests/${used.body.id}`), token)).status).toBe(401);
      await expectNothingLeft(afterRevocation);
    });
  });
});

describe('reading, downloading and re-submitting', () => {
  let completed: any;
  let completedUpload: Upload;

  it('GET a request returns the same shape; the signed artifact is 409 CONFLICT until it completes', async () => {
    const upload = artifact(2500, 'tool.msi');
    const waiting = await submitAsCi({ signingPolicySlug: 'release-signing', description: 'needs approval' }, upload);
    expect(waiting.status, JSON.stringify(waiting.body)).toBe(201);
    expect(waiting.body).toMatchObject({ workflowStatus: 'WaitingForApproval', status: 'WaitingForApproval', isFinalStatus: false, links: { signedArtifact: null } });

    const read = await getWithToken(fx.node, waiting.body.links.self, ci.token);
    expect(read.status).toBe(200);
    const body = await read.json();
    expect(Object.keys(body).sort()).toEqual(Object.keys(waiting.body).sort());
    expect(body).toMatchObject({
      id: waiting.body.id,
      projectSlug: 'widget',
      signingPolicySlug: 'release-signing',
      artifactConfigurationSlug: 'default',
      artifact: { fileName: 'tool.msi', size: 2500, sha256: sha256(upload.data) },
      origin: null,
      approvals: [],
      links: waiting.body.links,
    });

    const signed = await getWithToken(fx.node, `${waiting.body.links.self}/signed-artifact`, ci.token);
    expect(signed.status).toBe(409);
    expect((await signed.json()).error.code).toBe('CONFLICT');

    // The unsigned artifact is there already, byte for byte.
    const unsigned = await getWithToken(fx.node, body.links.unsignedArtifact, ci.token);
    expect(unsigned.status).toBe(200);
    expect(Buffer.from(await unsigned.arrayBuffer()).equals(upload.data)).toBe(true);

    // A request id that does not exist.
    expect((await getWithToken(fx.node, api('/signing-requests/sr_nothing'), ci.token)).status).toBe(404);
  });

  it('once Completed the detached signature downloads and openssl verifies it; unsigned-artifact is the exact upload', async () => {
    completedUpload = artifact(7777, 'widget-1.2.3.zip');
    const submitted = await submitAsCi({}, completedUpload);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    completed = await waitForFinal(fx.node, fx.org.slug, submitted.body.id, ci.token);
    expect(completed).toMatchObject({ workflowStatus: 'Completed', status: 'Completed', isFinalStatus: true, failureReason: null });
    expect(completed.links.signedArtifact).toBe(`${completed.links.self}/signed-artifact`);

    const signed = await getWithToken(fx.node, completed.links.signedArtifact, ci.token);
    expect(signed.status).toBe(200);
    expect(signed.headers.get('content-type')).toMatch(/^application\/pkcs7-signature/);
    const signature = Buffer.from(await signed.arrayBuffer());
    expect(signature.length).toBeGreaterThan(100);

    const unsigned = await getWithToken(fx.node, completed.links.unsignedArtifact, ci.token);
    expect(unsigned.status).toBe(200);
    const bytes = Buffer.from(await unsigned.arrayBuffer());
    expect(bytes.equals(completedUpload.data)).toBe(true);
    expect(sha256(bytes)).toBe(completed.artifact.sha256);

    const verified = verifyWithOpenssl(signature, bytes, fixture.certificate.certificatePem);
    expect(verified.status, verified.stderr).toBe(0);
    // And it is a signature over these bytes only.
    const tampered = Buffer.from(bytes);
    tampered[100] = tampered[100]! ^ 0xff;
    expect(verifyWithOpenssl(signature, tampered, fixture.certificate.certificatePem).status).not.toBe(0);
  });

  it('POST …/resubmit to the release policy → 201, a new request linked to the original, waiting for approval', async () => {
    const response = await http(fx.node, 'POST', api(`/signing-requests/${completed.id}/resubmit`), {
      token: ci.token,
      origin: null,
      body: { signingPolicySlug: 'release-signing', description: 'promote to release' },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const body = response.body as any;
    expect(body.id).not.toBe(completed.id);
    expect(response.headers.get('location')).toBe(body.links.self);
    expect(body).toMatchObject({
      resubmittedFromId: completed.id,
      workflowStatus: 'WaitingForApproval',
      isFinalStatus: false,
      signingPolicySlug: 'release-signing',
      description: 'promote to release',
      artifact: completed.artifact,
    });

    // Approved by the admin, it is signed too; the copy of the artifact is the same bytes.
    await must(as.admin, 'request.approve', { requestId: body.id, comment: 'ship it' });
    const done = await waitForFinal(fx.node, fx.org.slug, body.id, ci.token);
    expect(done).toMatchObject({ workflowStatus: 'Completed', approvals: [{ userId: fx.org.users.admin.userId, comment: 'ship it' }] });
    const signature = Buffer.from(await (await getWithToken(fx.node, done.links.signedArtifact, ci.token)).arrayBuffer());
    const verified = verifyWithOpenssl(signature, completedUpload.data, fixture.certificate.certificatePem);
    expect(verified.status, verified.stderr).toBe(0);
  });

  it('re-submitting to a policy that does not name you a submitter → 403, audited as denied', async () => {
    const mine = await submitAsCi({}, artifact(), {}, memberSubmitToken);
    expect(mine.status).toBe(201);
    await waitForFinal(fx.node, fx.org.slug, mine.body.id, memberSubmitToken);
    const seqBefore = (await auditLog(fx.node, fx.org.orgId)).at(-1)!.seq;
    const requestsBefore = (await allRequests()).length;
    const response = await http(fx.node, 'POST', api(`/signing-requests/${mine.body.id}/resubmit`), {
      token: memberSubmitToken,
      origin: null,
      body: { signingPolicySlug: 'ci-only' },
    });
    expect(response.status).toBe(403);
    expect(response.body.error?.code).toBe('FORBIDDEN');
    const denial = await entriesAfter(seqBefore);
    expect(denial.map((entry) => [entry.action, entry.outcome])).toEqual([['request.resubmit', 'denied']]);
    expect((await allRequests()).length).toBe(requestsBefore);
  });

  it('re-submitting a request that is not final → 409; to an unknown policy → INVALID_INPUT naming signingPolicySlug', async () => {
    const waiting = await submitAsCi({ signingPolicySlug: 'release-signing' });
    expect(waiting.status).toBe(201);
    const early = await http(fx.node, 'POST', api(`/signing-requests/${waiting.body.id}/resubmit`), { token: ci.token, origin: null, body: {} });
    expect(early.status).toBe(409);
    expect(early.body.error?.code).toBe('CONFLICT');
    const unknown = await http(fx.node, 'POST', api(`/signing-requests/${completed.id}/resubmit`), {
      token: ci.token,
      origin: null,
      body: { signingPolicySlug: 'no-such-policy' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.issues?.map((issue) => issue.path)).toEqual(['signingPolicySlug']);
  });
});

describe('GET /api/v1/orgs/{org}/audit', () => {
  it('pages the audit log as NDJSON with an after cursor', async () => {
    const first = await getWithToken(fx.node, api('/audit?after=0&limit=5'), adminAuditToken);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await first.text()).split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(5);
    const entries = lines.map((line) => JSON.parse(line));
    const seqs = entries.map((entry) => entry.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(5);
    for (const entry of entries) {
      expect(entry).toMatchObject({ seq: expect.any(Number), action: expect.any(String), actor: expect.any(Object), target: expect.any(Object) });
    }

    const last = seqs.at(-1)!;
    const second = await getWithToken(fx.node, api(`/audit?after=${last}&limit=5`), adminAuditToken);
    expect(second.status).toBe(200);
    const next = (await second.text()).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
    expect(next).toHaveLength(5);
    expect(next[0].seq).toBeGreaterThan(last);
    expect(next.map((entry) => entry.seq)).toEqual([...next.map((entry) => entry.seq)].sort((a, b) => a - b));

    // The same entries as the log itself holds.
    const log = await auditLog(fx.node, fx.org.orgId);
    expect([...entries, ...next].map((entry) => entry.seq)).toEqual(log.slice(0, 10).map((entry) => entry.seq));
  });

  it('a bad cursor or limit → 400 INVALID_INPUT naming it', async () => {
    for (const [query, field] of [['after=-1', 'after'], ['limit=0', 'limit'], ['limit=abc', 'limit']] as const) {
      const response = await getWithToken(fx.node, api(`/audit?${query}`), adminAuditToken);
      expect(response.status, query).toBe(400);
      const body = await jsonOrText(response);
      expect(body.error.code).toBe('INVALID_INPUT');
      expect(body.error.issues.map((issue: { path: string }) => issue.path)).toEqual([field]);
    }
  });

  it('a member\'s key (no audit:read) → 403', async () => {
    const response = await getWithToken(fx.node, api('/audit?after=0&limit=5'), memberSubmitToken);
    expect(response.status).toBe(403);
    expect((await jsonOrText(response)).error.code).toBe('FORBIDDEN');
  });
});

describe('GET /api/v1/openapi.json', () => {
  it('is an OpenAPI document listing the REST API paths of SPEC §8', async () => {
    const response = await fetch(`${fx.node.url}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const document = await response.json();
    expect(String(document.openapi)).toMatch(/^3\./);
    const paths = Object.keys(document.paths ?? {});
    const normalized = paths.map((path) => path.replace(/\{[^}]+\}/g, '{}'));
    for (const path of [
      '/api/v1/orgs/{}/signing-requests',
      '/api/v1/orgs/{}/signing-requests/{}',
      '/api/v1/orgs/{}/signing-requests/{}/signed-artifact',
      '/api/v1/orgs/{}/signing-requests/{}/unsigned-artifact',
      '/api/v1/orgs/{}/signing-requests/{}/resubmit',
      '/api/v1/orgs/{}/audit',
      '/api/v1/auth/login',
      '/api/v1/auth/logout',
      '/api/v1/auth/accept-invite',
    ]) {
      expect(normalized, path).toContain(path);
    }
    expect(document.paths[paths[normalized.indexOf('/api/v1/orgs/{}/signing-requests')]!].post).toBeDefined();
  });
});
