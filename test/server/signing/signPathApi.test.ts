// The SignPath-compatible endpoint, used the way SignPath's documentation (and its PowerShell module
// and REST clients) use SignPath: submit with SignPath's multipart field names to
// /API/v1/{OrganizationId}/SigningRequests, follow the Location with GET until isFinalStatus,
// download signedArtifactLink, resubmit. The same checks and signing as the native API.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { auditLog, connect, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { createPolicy, createSigningProject, getWithToken, jsonOrText, must, removeDir, requestDirs, tempDir, verifyWithOpenssl, type SigningProject } from '../../helpers/signing.js';

let node: SignetNode;
let org: TestOrg;
let artifactDir: string;
const sockets: ClientSocket[] = [];
let owner: ClientSocket;
let admin: ClientSocket;
let fixture: SigningProject;
let ciToken: string;
let otherOrgToken: string;

/** A multipart POST with the fields in the order given, as curl -F sends them. */
async function post(pathname: string, fields: Array<[string, string | { data: Buffer; fileName: string }]>, token = ciToken, headers: Record<string, string> = {}) {
  const form = new FormData();
  for (const [name, value] of fields) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([new Uint8Array(value.data)]), value.fileName);
  }
  const response = await fetch(`${node.url}${pathname}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body: form });
  return { status: response.status, headers: response.headers, body: await jsonOrText(response) };
}

/** Polls the request as SignPath's clients do (they have no live channel): GET until isFinalStatus. */
async function pollUntilFinal(location: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await getWithToken(node, location, ciToken);
    const body = await jsonOrText(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    if (body.isFinalStatus) return body;
    if (Date.now() > deadline) throw new Error(`still ${body.workflowStatus} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  artifactDir = tempDir('signet-signpath-');
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir }));
  org = await seedOrg(node);
  owner = await connect(node, { cookie: await signIn(node, org.users.owner) });
  admin = await connect(node, { cookie: await signIn(node, org.users.admin) });
  sockets.push(owner, admin);
  fixture = await createSigningProject(owner, { slug: 'test-project' });
  const ci = await must(owner, 'ciUser.create', { name: 'Migrated pipeline' });
  ciToken = ci.token;
  const base = { projectId: fixture.project.id, certificateId: fixture.certificate.id, submitters: [ci.ciUser.userId] };
  await createPolicy(owner, { ...base, slug: 'test-signing' });
  await createPolicy(owner, { ...base, slug: 'release-signing', approvers: [org.users.admin.userId], requiredApprovals: 1 });
  await must(owner, 'artifactConfig.create', { projectId: fixture.project.id, slug: 'v2-4', name: 'Version 2.4', signatureFormat: 'cms-detached' });
  const other = await seedOrg(node);
  const otherOwner = await connect(node, { cookie: await signIn(node, other.users.owner) });
  sockets.push(otherOwner);
  otherOrgToken = (await must(otherOwner, 'ciUser.create', { name: 'Other' })).token;
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  removeDir(artifactDir);
});

describe('SignPath-compatible submission', () => {
  it("submits with SignPath's field names under the organization's id, polls the Location to Completed, and downloads a signature openssl verifies", async () => {
    const artifact = randomBytes(3000);
    const submitted = await post(`/API/v1/${org.orgId}/SigningRequests`, [
      ['ProjectSlug', 'test-project'],
      ['SigningPolicySlug', 'test-signing'],
      ['ArtifactConfigurationSlug', 'v2-4'],
      ['Description', 'Called by cURL'],
      ['Parameters[productVersion]', '1.2.0'],
      ['Artifact', { data: artifact, fileName: 'app.bin' }],
    ]);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const location = submitted.headers.get('location')!;
    expect(location).toMatch(new RegExp(`/api/v1/${org.orgId}/SigningRequests/sr_\\w+$`));

    const done = await pollUntilFinal(location);
    const id = location.split('/').pop();
    expect(done).toMatchObject({
      id,
      status: 'Completed',
      workflowStatus: 'Completed',
      isFinalStatus: true,
      description: 'Called by cURL',
      projectId: fixture.project.id,
      projectSlug: 'test-project',
      projectName: 'Project test-project',
      artifactConfigurationSlug: 'v2-4',
      artifactConfigurationName: 'Version 2.4',
      signingPolicySlug: 'test-signing',
      signingPolicyName: 'Policy test-signing',
      parameters: { productVersion: '1.2.0' },
      unsignedArtifactLink: `${location}/UnsignedArtifact`,
      signedArtifactLink: `${location}/SignedArtifact`,
    });
    // As SignPath does, origin appears only for origin-verified requests.
    expect(done).not.toHaveProperty('origin');

    const signature = await getWithToken(node, done.signedArtifactLink, ciToken);
    expect(signature.status).toBe(200);
    const verified = verifyWithOpenssl(Buffer.from(await signature.arrayBuffer()), artifact, fixture.certificate.certificatePem);
    expect(verified.status, verified.stderr).toBe(0);
    const unsigned = await getWithToken(node, done.unsignedArtifactLink, ciToken);
    expect(Buffer.from(await unsigned.arrayBuffer())).toEqual(artifact);

    // The same request through the native API: one implementation, two sets of names.
    const native = await jsonOrText(await getWithToken(node, `/api/v1/orgs/${org.slug}/signing-requests/${id}`, ciToken));
    expect(native).toMatchObject({ workflowStatus: 'Completed', signingPolicySlug: 'test-signing', parameters: { productVersion: '1.2.0' } });
    const entry = (await auditLog(node, org.orgId)).find((e) => e.action === 'request.submit' && e.target.id === id);
    expect(entry?.source.via).toBe('rest');
  });

  it('takes the organization slug, SubmitWithArtifact, lower-case names and Parameters.NAME as well; an approval gate shows InProgress/WaitingForApproval without a signed link', async () => {
    const submitted = await post(`/api/v1/${org.slug}/SigningRequests/SubmitWithArtifact`, [
      ['projectSlug', 'test-project'],
      ['signingPolicySlug', 'release-signing'],
      ['parameters.channel', 'beta'],
      ['artifact', { data: randomBytes(100), fileName: 'setup.bin' }],
    ]);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    expect(submitted.body).toMatchObject({ status: 'WaitingForApproval', workflowStatus: 'WaitingForApproval', isFinalStatus: false, signedArtifactLink: null, parameters: { channel: 'beta' } });
    const location = submitted.headers.get('location')!;
    const early = await getWithToken(node, `${location}/SignedArtifact`, ciToken);
    expect(early.status).toBe(409);
    await must(admin, 'request.approve', { requestId: submitted.body.id });
    expect(await pollUntilFinal(location)).toMatchObject({ status: 'Completed', signedArtifactLink: `${location}/SignedArtifact` });
  });

  it('an Idempotency-Key works here too: the same key returns the same request with 200', async () => {
    const fields: Array<[string, string | { data: Buffer; fileName: string }]> = [
      ['ProjectSlug', 'test-project'],
      ['SigningPolicySlug', 'test-signing'],
      ['Artifact', { data: randomBytes(64), fileName: 'again.bin' }],
    ];
    const first = await post(`/API/v1/${org.orgId}/SigningRequests`, fields, ciToken, { 'idempotency-key': 'job-17' });
    const second = await post(`/API/v1/${org.orgId}/SigningRequests`, fields, ciToken, { 'idempotency-key': 'job-17' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
  });

  it('resubmits a finished request under another policy, with SignPath\'s multipart fields', async () => {
    const original = await post(`/API/v1/${org.orgId}/SigningRequests`, [
      ['ProjectSlug', 'test-project'],
      ['SigningPolicySlug', 'test-signing'],
      ['Artifact', { data: randomBytes(64), fileName: 'rc.bin' }],
    ]);
    await pollUntilFinal(original.headers.get('location')!);
    const resubmitted = await post(`/API/v1/${org.orgId}/SigningRequests/Resubmit`, [
      ['OriginalSigningRequestId', original.body.id],
      ['SigningPolicySlug', 'release-signing'],
      ['Description', 'promoted to release'],
    ]);
    expect(resubmitted.status, JSON.stringify(resubmitted.body)).toBe(201);
    expect(resubmitted.body).toMatchObject({ signingPolicySlug: 'release-signing', description: 'promoted to release', workflowStatus: 'WaitingForApproval' });
    expect(resubmitted.headers.get('location')).toMatch(/\/SigningRequests\/sr_\w+$/);
    const native = await jsonOrText(await getWithToken(node, `/api/v1/orgs/${org.slug}/signing-requests/${resubmitted.body.id}`, ciToken));
    expect(native.resubmittedFromId).toBe(original.body.id);
  });

  it('ignores origin data a client states about itself, as SignPath does outside a trusted build system: the request shows no origin', async () => {
    const submitted = await post(`/API/v1/${org.orgId}/SigningRequests`, [
      ['ProjectSlug', 'test-project'],
      ['SigningPolicySlug', 'test-signing'],
      ['Origin.RepositoryData.Url', 'https://github.com/acme/test-project'],
      ['Origin.RepositoryData.BranchName', 'main'],
      ['Origin.BuildData.BuildSettingsFile', { data: Buffer.from('{}'), fileName: 'settings.json' }],
      ['Artifact', { data: randomBytes(64), fileName: 'claimed.bin' }],
    ]);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const done = await pollUntilFinal(submitted.headers.get('location')!);
    expect(done).not.toHaveProperty('origin');
  });

  it('refuses what Signet does not take, naming the field and what to send instead, and keeps nothing', async () => {
    const before = requestDirs(artifactDir, org.orgId);
    const cases: Array<[Array<[string, string | { data: Buffer; fileName: string }]>, string, RegExp]> = [
      [[['SigningPolicyId', 'c90eb2c7'], ['Artifact', { data: randomBytes(8), fileName: 'a.bin' }]], 'SigningPolicyId', /send ProjectSlug and SigningPolicySlug/],
      [[['ProjectSlug', 'test-project'], ['SigningPolicySlug', 'test-signing'], ['ArtifactRetrievalLink', 'https://example.com/a.bin']], 'ArtifactRetrievalLink', /does not fetch artifacts from a link/],
      [[['ProjectSlug', 'test-project'], ['SigningPolicySlug', 'test-signing'], ['Colour', 'blue'], ['Artifact', { data: randomBytes(8), fileName: 'a.bin' }]], 'Colour', /not a field of SignPath's submission API/],
      [[['ProjectSlug', 'test-project'], ['SigningPolicySlug', 'nope'], ['Artifact', { data: randomBytes(8), fileName: 'a.bin' }]], 'signingPolicySlug', /no signing policy "nope"/],
    ];
    for (const [fields, path, message] of cases) {
      const refused = await post(`/API/v1/${org.orgId}/SigningRequests`, fields);
      expect(refused.status, path).toBe(400);
      expect(refused.body.error.code).toBe('INVALID_INPUT');
      expect(refused.body.error.issues?.[0]?.path ?? '', JSON.stringify(refused.body)).toBe(path);
      expect(refused.body.error.message).toMatch(message);
    }
    expect(requestDirs(artifactDir, org.orgId)).toEqual(before);
  });

  it("another organization's id or key gets NOT_FOUND; no key gets UNAUTHENTICATED", async () => {
    const fields: Array<[string, string | { data: Buffer; fileName: string }]> = [
      ['ProjectSlug', 'test-project'],
      ['SigningPolicySlug', 'test-signing'],
      ['Artifact', { data: randomBytes(8), fileName: 'a.bin' }],
    ];
    const wrongOrg = await post(`/API/v1/${org.orgId}/SigningRequests`, fields, otherOrgToken);
    expect(wrongOrg.status).toBe(404);
    expect(wrongOrg.body.error.code).toBe('NOT_FOUND');
    const anonymous = await fetch(`${node.url}/API/v1/${org.orgId}/SigningRequests/sr_nothing`);
    expect(anonymous.status).toBe(401);
  });
});
