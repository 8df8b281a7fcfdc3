// Origin verification end to end (SPEC §4 "Origin verification", §3 Open Source organizations): a
// real OIDC issuer on loopback (its JWKS fetched over HTTP), registered as a trusted build system;
// submissions over REST to a policy that requires origin verification, and the Open Source rules.
//
// The build system is registered with GitHub Actions' issuer name and the loopback JWKS URL: a
// token's path claim `repository: "acme/widget"` then names github.com/acme/widget, the project's
// repository (under the loopback issuer's own name it would name 127.0.0.1:PORT/acme/widget, which
// no project can have as a repository URL).
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { setOpenSource } from '../../../server/cli/operator.js';
import { auditLog, command, http, OPERATOR, seedOrg, signIn, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { startTestIssuer, TEST_SHA, type SignOptions, type TestIssuer } from '../../helpers/oidcIssuer.js';
import { createPolicy, createSigningProject, must, requestDirs, submitRequest, waitForFinal, type SigningProject } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
const REPOSITORY_URL = 'https://github.com/acme/widget';

let idp: TestIssuer;
let artifactDir: string;
const fx = useSignet({
  config: async () => {
    idp = await startTestIssuer();
    fx.onClose(() => idp.close());
    artifactDir = fx.tempDir('signet-origin-artifacts-');
    return testConfig({ SIGNET_ARTIFACT_DIR: artifactDir });
  },
});
const { open } = fx;
let owner: ClientSocket;
let admin: ClientSocket;
let member: ClientSocket;
let fixture: SigningProject;
let ci: { userId: string; token: string };
let buildSystemId: string;

/** A GitHub-Actions-shaped ID token for acme/widget on main, with these claims changed. */
function originToken(claims: Record<string, unknown> = {}, options: SignOptions = {}) {
  return idp.sign({ iss: GITHUB_ISSUER, server_url: undefined, ...claims }, options);
}

const branch = (name: string) => ({ ref: `refs/heads/${name}`, sub: `repo:acme/widget:ref:refs/heads/${name}` });

function submit(token: string | undefined, policy = 'verified', data = randomBytes(1500)) {
  return submitRequest(
    fx.node,
    fx.org.slug,
    ci.token,
    { projectSlug: fixture.project.slug, signingPolicySlug: policy, description: 'from CI', fields: { originToken: token }, artifact: data, fileName: 'widget.exe' },
  );
}

async function requestCount(socket = owner): Promise<number> {
  return (await must(socket, 'request.list', { limit: 200 })).requests.length;
}

/** Submits a token that must be refused with 403, audited as a denial; returns the error message. */
async function expectDenied(token: string): Promise<string> {
  const before = { requests: await requestCount(), dirs: requestDirs(artifactDir, fx.org.orgId), seq: (await auditLog(fx.node, fx.org.orgId)).at(-1)!.seq };
  const response = await submit(token);
  expect(response.status, JSON.stringify(response.body)).toBe(403);
  expect(response.body.error.code).toBe('FORBIDDEN');
  const message: string = response.body.error.message;
  expect(message).not.toContain(token);
  // (The worker may audit earlier requests meanwhile: only what the CI user did counts.)
  const denials = (await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.seq > before.seq && entry.actor.id === ci.userId);
  expect(denials).toHaveLength(1);
  expect(denials[0]).toMatchObject({ action: 'request.submit', outcome: 'denied', actor: { type: 'ciUser', id: ci.userId }, source: { via: 'rest' } });
  expect(JSON.stringify(denials[0])).not.toContain(token);
  expect(await requestCount()).toBe(before.requests);
  expect(requestDirs(artifactDir, fx.org.orgId)).toEqual(before.dirs);
  return message;
}

beforeAll(async () => {
  ({ owner, admin, member } = fx.as);

  const buildSystem = await must(admin, 'buildSystem.create', {
    name: 'GitHub Actions (test keys)',
    issuer: GITHUB_ISSUER,
    audience: idp.audience,
    jwksUrl: idp.jwksUrl,
  });
  buildSystemId = buildSystem.id;

  fixture = await createSigningProject(owner, { slug: 'widget', repositoryUrl: REPOSITORY_URL });
  const created = await must(owner, 'ciUser.create', { name: 'GitHub Runner' });
  ci = { userId: created.ciUser.userId, token: created.token };
  await createPolicy(owner, {
    projectId: fixture.project.id,
    certificateId: fixture.certificate.id,
    slug: 'verified',
    submitters: [ci.userId],
    approvers: [fx.org.users.admin.userId],
    requiredApprovals: 0,
    originVerification: true,
    allowedBranches: ['main', 'release/*'],
  });
});

describe('submitting to a policy with origin verification', () => {
  it('a valid token for main → 201 with the verified origin stored on the request', async () => {
    const token = await originToken();
    const data = randomBytes(1500);
    const response = await submit(token, 'verified', data);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const expectedOrigin = {
      verified: true,
      repository: 'acme/widget',
      repositoryUrl: REPOSITORY_URL,
      branch: 'main',
      commit: TEST_SHA,
      buildUrl: `${REPOSITORY_URL}/actions/runs/9876543210`,
      issuer: GITHUB_ISSUER,
    };
    expect(response.body.origin).toMatchObject(expectedOrigin);
    expect(response.body.artifact.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(JSON.stringify(response.body)).not.toContain(token);

    const { request } = await must(owner, 'request.get', { requestId: response.body.id });
    expect(request.origin).toMatchObject(expectedOrigin);
    // It is signed like any other request.
    const done = await waitForFinal(fx.node, fx.org.slug, response.body.id, ci.token);
    expect(done).toMatchObject({ workflowStatus: 'Completed', origin: expectedOrigin });
    // The token itself is kept nowhere in the audit log.
    expect(JSON.stringify(await auditLog(fx.node, fx.org.orgId))).not.toContain(token);

    // A re-submission carries the verified origin over (it satisfies the policy's branches).
    const again = await http(fx.node, 'POST', `/api/v1/orgs/${fx.org.slug}/signing-requests/${done.id}/resubmit`, {
      token: ci.token,
      origin: null,
      body: { description: 'rebuild' },
    });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((again.body as any).origin).toMatchObject(expectedOrigin);
  });

  it('a branch matching release/* is accepted too, with an ES256 token', async () => {
    const response = await submit(await originToken(branch('release/2.0'), { alg: 'ES256' }));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect(response.body.origin).toMatchObject({ verified: true, branch: 'release/2.0' });
  });

  it('without a token → 400 INVALID_INPUT naming originToken, nothing created', async () => {
    const before = { requests: await requestCount(), dirs: requestDirs(artifactDir, fx.org.orgId) };
    const response = await submit(undefined);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('INVALID_INPUT');
    expect(response.body.error.issues.map((issue: { path: string }) => issue.path)).toEqual(['originToken']);
    expect(await requestCount()).toBe(before.requests);
    expect(requestDirs(artifactDir, fx.org.orgId)).toEqual(before.dirs);
  });

  it('a token for branch feature/x → 403 FORBIDDEN naming the branch, audited as denied', async () => {
    const message = await expectDenied(await originToken(branch('feature/x')));
    expect(message).toContain('feature/x');
    const denial = (await auditLog(fx.node, fx.org.orgId)).at(-1)!;
    expect(JSON.stringify(denial)).toContain('feature/x');
  });

  it('a token for another repository → 403', async () => {
    const message = await expectDenied(await originToken({ repository: 'acme/other', repository_owner: 'acme', sub: 'repo:acme/other:ref:refs/heads/main' }));
    expect(message).toContain('acme/other');
  });

  it('a token for the same repository path on another host → 403', async () => {
    await expectDenied(await originToken({ repository: undefined, repository_url: 'https://gitlab.com/acme/widget' }));
  });

  it('an expired token → 403', async () => {
    const message = await expectDenied(await originToken({}, { expiresIn: -300 }));
    expect(message).toMatch(/expired/);
  });

  it('a token for another audience, or signed with a key the build system does not publish → 403', async () => {
    await expectDenied(await originToken({}, { audience: 'someone-else' }));
    const { generateKeyPair } = await import('jose');
    const foreign = await generateKeyPair('RS256');
    await expectDenied(await originToken({}, { privateKey: foreign.privateKey }));
  });

  it('re-submission checks the origin against the new policy', async () => {
    await createPolicy(owner, { projectId: fixture.project.id, certificateId: fixture.certificate.id, slug: 'plain', submitters: [ci.userId] });
    await createPolicy(owner, { projectId: fixture.project.id, certificateId: fixture.certificate.id, slug: 'release-only', submitters: [ci.userId], originVerification: true, allowedBranches: ['release/*'] });
    const resubmit = (id: string, body: object) =>
      http(fx.node, 'POST', `/api/v1/orgs/${fx.org.slug}/signing-requests/${id}/resubmit`, { token: ci.token, origin: null, body });

    // A request without origin, re-submitted to the verified policy: it needs a token now.
    const plain = await submit(undefined, 'plain');
    expect(plain.status, JSON.stringify(plain.body)).toBe(201);
    expect(plain.body.origin).toBeNull();
    await waitForFinal(fx.node, fx.org.slug, plain.body.id, ci.token);
    const without = await resubmit(plain.body.id, { signingPolicySlug: 'verified' });
    expect(without.status).toBe(400);
    expect(without.body.error?.issues?.map((issue) => issue.path)).toEqual(['originToken']);
    const withToken = await resubmit(plain.body.id, { signingPolicySlug: 'verified', originToken: await originToken() });
    expect(withToken.status, JSON.stringify(withToken.body)).toBe(201);
    expect((withToken.body as any).origin).toMatchObject({ verified: true, branch: 'main' });
    expect((withToken.body as any).resubmittedFromId).toBe(plain.body.id);

    // A verified origin from main does not carry over to a policy that allows only release/*.
    const fromMain = await submit(await originToken());
    expect(fromMain.status).toBe(201);
    await waitForFinal(fx.node, fx.org.slug, fromMain.body.id, ci.token);
    const carried = await resubmit(fromMain.body.id, { signingPolicySlug: 'release-only' });
    expect(carried.status, JSON.stringify(carried.body)).toBe(400);
    expect(carried.body.error?.issues?.map((issue) => issue.path)).toEqual(['originToken']);
    const seqBefore = (await auditLog(fx.node, fx.org.orgId)).at(-1)!.seq;
    const mainToken = await resubmit(fromMain.body.id, { signingPolicySlug: 'release-only', originToken: await originToken() });
    expect(mainToken.status).toBe(403);
    expect(mainToken.body.error?.message).toContain('main');
    expect((await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.seq > seqBefore && entry.actor.id === ci.userId).map((entry) => [entry.action, entry.outcome])).toEqual([
      ['request.resubmit', 'denied'],
    ]);
    const releaseToken = await resubmit(fromMain.body.id, { signingPolicySlug: 'release-only', originToken: await originToken(branch('release/3.1')) });
    expect(releaseToken.status, JSON.stringify(releaseToken.body)).toBe(201);
    expect((releaseToken.body as any).origin).toMatchObject({ verified: true, branch: 'release/3.1' });
    for (const id of [(withToken.body as any).id, (releaseToken.body as any).id]) {
      expect(await waitForFinal(fx.node, fx.org.slug, id, ci.token)).toMatchObject({ workflowStatus: 'Completed' });
    }
  });

  it('the repository URL is the trust anchor: a member cannot move it to a fork, an admin can, and the tokens accepted follow it', async () => {
    const fork = { repository: 'mallory/widget', repository_owner: 'mallory', sub: 'repo:mallory/widget:ref:refs/heads/main' };
    const FORK_URL = 'https://github.com/mallory/widget';
    const current = async () => (await must(owner, 'project.get', { projectId: fixture.project.id })).project;

    // A member (config:write) trying to point the project at their fork: refused, audited, nothing moves.
    const before = await current();
    const refused = await command(member, 'project.update', { projectId: before.id, version: before.version, repositoryUrl: FORK_URL });
    expect(refused.error?.code).toBe('FORBIDDEN');
    expect((await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.actor.id === fx.org.users.member.userId).at(-1)).toMatchObject({
      action: 'project.update',
      outcome: 'denied',
    });
    expect(await current()).toEqual(before);
    expect(await expectDenied(await originToken(fork))).toContain('mallory/widget');

    // An admin (policy:write) moves it: now the fork's token is accepted and the original's refused.
    const moved = await must(admin, 'project.update', { projectId: before.id, version: before.version, repositoryUrl: FORK_URL });
    const accepted = await submit(await originToken(fork));
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    expect(accepted.body.origin).toMatchObject({ verified: true, repositoryUrl: FORK_URL });
    await expectDenied(await originToken());

    await must(admin, 'project.update', { projectId: before.id, version: moved.version, repositoryUrl: REPOSITORY_URL });
    const back = await submit(await originToken());
    expect(back.status, JSON.stringify(back.body)).toBe(201);
    for (const id of [accepted.body.id, back.body.id]) {
      expect(await waitForFinal(fx.node, fx.org.slug, id, ci.token)).toMatchObject({ workflowStatus: 'Completed' });
    }
  });

  it('after buildSystem.delete a valid token → 403', async () => {
    const deleted = await command(admin, 'buildSystem.delete', { buildSystemId });
    expect(deleted.ok, JSON.stringify(deleted.error)).toBe(true);
    const message = await expectDenied(await originToken());
    expect(message).toContain(GITHUB_ISSUER);
  });
});

describe('Open Source organizations', () => {
  let oss: TestOrg;
  let ossOwner: ClientSocket;
  let ossAdmin: ClientSocket;
  let ossFixture: SigningProject;

  beforeAll(async () => {
    oss = await seedOrg(fx.node);
    ossOwner = await open({ cookie: await signIn(fx.node, oss.users.owner) });
    ossAdmin = await open({ cookie: await signIn(fx.node, oss.users.admin) });
    // What operators set up for the organization, created before it became Open Source.
    ossFixture = await createSigningProject(ossOwner, { slug: 'libfoo', repositoryUrl: 'https://github.com/foo/libfoo' });
    await setOpenSource(fx.node.signet, oss.orgId, true, OPERATOR);
  });

  it('the owner cannot create projects (FORBIDDEN), on sockets opened before the change', async () => {
    const ack = await command(ossOwner, 'project.create', { slug: 'another', name: 'Another', repositoryUrl: 'https://github.com/foo/another' });
    expect(ack.ok).toBe(false);
    expect(ack.error?.code).toBe('FORBIDDEN');
    const projects = await must(ossOwner, 'project.list');
    expect(projects.map((project: { slug: string }) => project.slug)).toEqual(['libfoo']);
  });

  it('nobody edits project metadata (FORBIDDEN)', async () => {
    for (const socket of [ossOwner, ossAdmin]) {
      const ack = await command(socket, 'project.update', { projectId: ossFixture.project.id, version: ossFixture.project.version, name: 'Renamed' });
      expect(ack.error?.code).toBe('FORBIDDEN');
    }
  });

  it('the owner cannot generate certificates (FORBIDDEN)', async () => {
    const ack = await command(ossOwner, 'certificate.generate', {
      slug: 'another-cert',
      name: 'Another',
      type: 'release',
      algorithm: 'ECDSA-P256',
      commonName: 'Another',
    });
    expect(ack.ok).toBe(false);
    expect(ack.error?.code).toBe('FORBIDDEN');
    expect((await must(ossOwner, 'certificate.list')).map((certificate: { slug: string }) => certificate.slug)).toEqual([ossFixture.certificate.slug]);
  });

  it('a policy created with originVerification false is stored with originVerification true', async () => {
    const ci = await must(ossOwner, 'ciUser.create', { name: 'OSS Runner' });
    const created = await createPolicy(ossOwner, { projectId: ossFixture.project.id, certificateId: ossFixture.certificate.id, slug: 'release', submitters: [ci.ciUser.userId], originVerification: false });
    expect(created.originVerification).toBe(true);
    const stored = (await must(ossAdmin, 'policy.list', { projectId: ossFixture.project.id })).find((policy: { slug: string }) => policy.slug === 'release');
    expect(stored.originVerification).toBe(true);

    // And it is enforced: a submission without an origin token is refused.
    const response = await submitRequest(
      fx.node,
      oss.slug,
      ci.token,
      { projectSlug: 'libfoo', signingPolicySlug: 'release', artifact: randomBytes(500), fileName: 'libfoo.tar.gz' },
    );
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(response.body.error.issues.map((issue: { path: string }) => issue.path)).toEqual(['originToken']);

    // Turning it off later is not possible either.
    const updated = await command(ossAdmin, 'policy.update', { policyId: stored.id, version: stored.version, originVerification: false });
    if (updated.ok) expect(updated.result.originVerification).toBe(true);
    const after = (await must(ossAdmin, 'policy.list', { projectId: ossFixture.project.id })).find((policy: { slug: string }) => policy.slug === 'release');
    expect(after.originVerification).toBe(true);
  });
});
