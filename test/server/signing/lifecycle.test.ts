// The signing-request lifecycle (SPEC §4, §5) over a real node, Redis, BullMQ workers and openssl:
// automatic signing with RSA and ECDSA certificates, k-of-n approvals, denial, cancelation, expiry,
// re-submission to another policy, certificate problems, two nodes sharing one queue, a node dying
// mid-job, and who is notified of what. Waits are on `change` / `notification` events, not sleeps.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { STATUS_LABELS } from '../../../src/lib/shared/signing.js';
import type { Config } from '../../../server/config.js';
import type { SignetNode } from '../../../server/index.js';
import { connectRedis } from '../../../server/store/redis.js';
import type { Certificate, SigningRequest } from '../../../src/lib/shared/entities.js';
import {
  auditLog,
  command,
  connect,
  redisUrl,
  seedOrg,
  signIn,
  startNode,
  testConfig,
  type ClientSocket,
  type TestOrg,
} from '../../helpers/signet.js';
import {
  certificatePem,
  createApiKey,
  createPolicy,
  createProject,
  download,
  expiredCertificate,
  generateCertificate,
  ok,
  randomArtifact,
  submitOk,
  verifyWithOpenssl,
  versionsSeen,
  waitForNotifications,
  waitForStatus,
  type IssuedCertificate,
  type Person,
} from '../../helpers/signing.js';
import { useSignet, type SignetFixture } from '../../helpers/signetFixture.js';
import { spawnNodeProcess, type NodeProcess } from '../../helpers/nodeProcess.js';

let config: Config;
let artifactDir: string;
const fx: SignetFixture<'alice' | 'bob' | 'otto'> = useSignet({
  config: () => {
    artifactDir = fx.tempDir('signet-lifecycle-');
    return (config = testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_RATE_LIMIT_PER_MINUTE: '100000' }));
  },
  people: { alice: 'Alice Approver', bob: 'Bob Approver', otto: 'Otto Outsider' },
});
const { who } = fx;
let node: SignetNode;
let org: TestOrg;
let owner: ClientSocket;
let project: { id: string; slug: string };
let ecCert: Certificate;
let rsaCert: Certificate;
let memberToken: string;
let adminToken: string;
const sockets: ClientSocket[] = [];
const extraNodes: SignetNode[] = [];
const children: NodeProcess[] = [];

beforeAll(async () => {
  ({ node, org } = fx);
  fx.onClose(async () => {
    for (const socket of sockets) socket.close();
    for (const child of children) await child.kill();
    for (const extra of extraNodes) await extra.close();
  });
  owner = who.owner.socket;
  project = await createProject(owner, 'widget');
  ecCert = await generateCertificate(owner, 'ec-test', { algorithm: 'ECDSA-P256' });
  rsaCert = await generateCertificate(owner, 'rsa-test', { algorithm: 'RSA-2048' });
  memberToken = await createApiKey(who.member.socket);
  adminToken = await createApiKey(who.admin.socket);
});

/** A command that must fail with this code. */
async function refused(socket: ClientSocket, name: string, input: unknown, code: string): Promise<string> {
  const ack = await command(socket, name, input);
  expect(ack.ok, `${name} should fail with ${code}`).toBe(false);
  expect(ack.error?.code, ack.error?.message).toBe(code);
  return ack.error!.message;
}

function flipped(data: Buffer): Buffer {
  const copy = Buffer.from(data);
  const at = copy.length >> 1;
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

async function submitTo(policySlug: string, options: { token?: string; artifact?: Buffer; via?: SignetNode | { url: string }; orgSlug?: string; projectSlug?: string } = {}) {
  const artifact = options.artifact ?? randomArtifact();
  const body = await submitOk(options.via ?? node, options.orgSlug ?? org.slug, options.token ?? memberToken, {
    projectSlug: options.projectSlug ?? project.slug,
    signingPolicySlug: policySlug,
    artifact,
    fileName: 'widget-setup.exe',
    description: `a build for ${policySlug}`,
  });
  return { request: body as { id: string; status: string; workflowStatus: string; isFinalStatus: boolean } & Record<string, any>, artifact };
}

describe('a policy without approvals signs at once', () => {
  for (const algorithm of ['RSA-2048', 'ECDSA-P256'] as const) {
    it(`${algorithm}: QueuedForProcessing → Processing → Completed, and openssl verifies the signature`, async () => {
      const certificate = algorithm === 'RSA-2048' ? rsaCert : ecCert;
      const other = algorithm === 'RSA-2048' ? ecCert : rsaCert;
      const policy = await createPolicy(owner, {
        projectId: project.id,
        slug: `auto-${algorithm.toLowerCase()}`,
        certificateId: certificate.id,
        submitters: [who.member.userId],
      });
      const { request, artifact } = await submitTo(policy.slug);
      expect(request).toMatchObject({ workflowStatus: 'QueuedForProcessing', status: 'QueuedForProcessing', isFinalStatus: false, requiredApprovals: 0 });
      expect(request.expiresAt).toBeNull();

      const completed = await waitForStatus(owner, request.id, 'Completed');
      // Every version the console heard, in order, with the coarse status and finality of SPEC §4.
      expect(versionsSeen(owner, request.id).map((r) => [r.workflowStatus, r.status, r.isFinalStatus])).toEqual([
        ['QueuedForProcessing', 'QueuedForProcessing', false],
        ['Processing', 'InProgress', false],
        ['Completed', 'Completed', true],
      ]);
      expect(completed.finishedAt).not.toBeNull();
      expect(completed.failureReason).toBeNull();
      expect(completed.signature).toMatchObject({ certificateId: certificate.id });

      const rest = await fetch(`${node.url}/api/v1/orgs/${org.slug}/signing-requests/${request.id}`, { headers: { authorization: `Bearer ${memberToken}` } });
      expect(rest.status).toBe(200);
      const presented = await rest.json();
      expect(presented).toMatchObject({ status: 'Completed', workflowStatus: 'Completed', isFinalStatus: true, signingPolicySlug: policy.slug });
      expect(presented.links.signedArtifact).toMatch(/\/signed-artifact$/);

      const signature = await download(node, org.slug, memberToken, request.id, 'signed-artifact');
      expect(await download(node, org.slug, memberToken, request.id, 'unsigned-artifact')).toEqual(artifact);
      const pem = await certificatePem(owner, certificate.id);
      expect(pem).toContain('BEGIN CERTIFICATE');
      expect(pem).not.toContain('PRIVATE KEY');
      const verified = verifyWithOpenssl(signature, artifact, pem);
      expect(verified.status, verified.stderr).toBe(0);
      expect(verifyWithOpenssl(signature, flipped(artifact), pem).status).not.toBe(0);
      expect(verifyWithOpenssl(signature, artifact, await certificatePem(owner, other.id)).status).not.toBe(0);
    });
  }
});

describe('approvals', () => {
  let quorum: { id: string; slug: string };

  beforeAll(async () => {
    // 2 of 3 approvers; the admin both submits and approves.
    quorum = await createPolicy(owner, {
      projectId: project.id,
      slug: 'quorum',
      certificateId: ecCert.id,
      submitters: [who.member.userId, who.admin.userId],
      approvers: [who.admin.userId, who.alice.userId, who.bob.userId],
      requiredApprovals: 2,
    });
  });

  it('2 of 3: one approval keeps it waiting, a second distinct approver queues it, and it is signed', async () => {
    const { request, artifact } = await submitTo(quorum.slug);
    expect(request).toMatchObject({ workflowStatus: 'WaitingForApproval', status: 'WaitingForApproval', isFinalStatus: false, requiredApprovals: 2 });
    expect(Date.parse(request.expiresAt)).toBeGreaterThan(Date.now());

    const first = await ok<SigningRequest>(command(who.alice.socket, 'request.approve', { requestId: request.id, comment: 'diff reviewed' }));
    expect(first).toMatchObject({ workflowStatus: 'WaitingForApproval', status: 'WaitingForApproval', isFinalStatus: false });
    expect(first.approvals.map((a) => [a.name, a.comment])).toEqual([['Alice Approver', 'diff reviewed']]);

    expect(await refused(who.alice.socket, 'request.approve', { requestId: request.id }, 'CONFLICT')).toMatch(/already/);
    await refused(who.otto.socket, 'request.approve', { requestId: request.id }, 'FORBIDDEN');
    await refused(who.viewer.socket, 'request.approve', { requestId: request.id }, 'FORBIDDEN');
    await refused(who.otto.socket, 'request.deny', { requestId: request.id, comment: 'no' }, 'FORBIDDEN');
    const still = await ok(command(owner, 'request.get', { requestId: request.id }));
    expect(still.request).toMatchObject({ workflowStatus: 'WaitingForApproval', approvals: [{ userId: who.alice.userId }] });

    const second = await ok<SigningRequest>(command(who.bob.socket, 'request.approve', { requestId: request.id, comment: '' }));
    expect(second).toMatchObject({ workflowStatus: 'QueuedForProcessing', status: 'QueuedForProcessing' });
    expect(second.approvals.map((a) => a.userId)).toEqual([who.alice.userId, who.bob.userId]);

    await waitForStatus(owner, request.id, 'Completed');
    expect(versionsSeen(owner, request.id).map((r) => r.workflowStatus)).toEqual([
      'WaitingForApproval',
      'WaitingForApproval',
      'QueuedForProcessing',
      'Processing',
      'Completed',
    ]);
    const signature = await download(node, org.slug, memberToken, request.id, 'signed-artifact');
    expect(verifyWithOpenssl(signature, artifact, await certificatePem(owner, ecCert.id)).status).toBe(0);
    // Too late to approve now.
    await refused(who.admin.socket, 'request.approve', { requestId: request.id }, 'CONFLICT');
  });

  it('a submitter who is also a named approver cannot approve (or deny) their own request', async () => {
    const { request } = await submitTo(quorum.slug, { token: adminToken });
    expect(request.submitter).toMatchObject({ id: who.admin.userId });
    expect(await refused(who.admin.socket, 'request.approve', { requestId: request.id }, 'FORBIDDEN')).toMatch(/own/);
    await refused(who.admin.socket, 'request.deny', { requestId: request.id, comment: 'mine' }, 'FORBIDDEN');
    const current = await ok(command(owner, 'request.get', { requestId: request.id }));
    expect(current.request).toMatchObject({ workflowStatus: 'WaitingForApproval', approvals: [], denials: [] });
  });

  it('an approver removed from the policy after submission can no longer approve', async () => {
    const policy = await createPolicy(owner, {
      projectId: project.id,
      slug: 'shrinking',
      certificateId: ecCert.id,
      submitters: [who.member.userId],
      approvers: [who.alice.userId, who.bob.userId],
      requiredApprovals: 1,
    });
    const { request } = await submitTo(policy.slug);
    expect(request.workflowStatus).toBe('WaitingForApproval');
    await ok(command(owner, 'policy.update', { policyId: policy.id, version: policy.version, approvers: [who.bob.userId] }));
    await refused(who.alice.socket, 'request.approve', { requestId: request.id }, 'FORBIDDEN');
    const current = await ok(command(owner, 'request.get', { requestId: request.id }));
    expect(current.request).toMatchObject({ workflowStatus: 'WaitingForApproval', approvals: [] });
    const approved = await ok<SigningRequest>(command(who.bob.socket, 'request.approve', { requestId: request.id }));
    expect(approved.workflowStatus).toBe('QueuedForProcessing');
    await waitForStatus(owner, request.id, 'Completed');
  });

  it('a single denial makes it Denied (final); later approvals and denials get CONFLICT', async () => {
    const { request } = await submitTo(quorum.slug);
    await ok(command(who.alice.socket, 'request.approve', { requestId: request.id }));
    const denied = await ok<SigningRequest>(command(who.bob.socket, 'request.deny', { requestId: request.id, comment: 'unreviewed dependency bump' }));
    expect(denied).toMatchObject({ workflowStatus: 'Denied', status: 'Denied', isFinalStatus: true });
    expect(denied.denials.map((d) => [d.userId, d.comment])).toEqual([[who.bob.userId, 'unreviewed dependency bump']]);
    expect(denied.failureReason).toContain('unreviewed dependency bump');
    expect(denied.finishedAt).not.toBeNull();
    await waitForStatus(owner, request.id, 'Denied');

    await refused(who.admin.socket, 'request.approve', { requestId: request.id }, 'CONFLICT');
    await refused(who.alice.socket, 'request.deny', { requestId: request.id, comment: 'me too' }, 'CONFLICT');
    await refused(who.member.socket, 'request.cancel', { requestId: request.id }, 'CONFLICT');
    const signed = await fetch(`${node.url}/api/v1/orgs/${org.slug}/signing-requests/${request.id}/signed-artifact`, { headers: { authorization: `Bearer ${memberToken}` } });
    expect(signed.status).toBe(409);
  });
});

describe('cancel', () => {
  let waiting: { id: string; slug: string };
  let instant: { id: string; slug: string };

  beforeAll(async () => {
    waiting = await createPolicy(owner, {
      projectId: project.id,
      slug: 'cancelable',
      certificateId: ecCert.id,
      submitters: [who.member.userId, who.otto.userId],
      approvers: [who.alice.userId],
      requiredApprovals: 1,
    });
    instant = await createPolicy(owner, { projectId: project.id, slug: 'instant', certificateId: ecCert.id, submitters: [who.member.userId] });
  });

  it('the submitter cancels their own waiting request', async () => {
    const { request } = await submitTo(waiting.slug);
    const canceled = await ok<SigningRequest>(command(who.member.socket, 'request.cancel', { requestId: request.id, reason: 'wrong build' }));
    expect(canceled).toMatchObject({ workflowStatus: 'Canceled', status: 'Canceled', isFinalStatus: true });
    expect(canceled.failureReason).toMatch(/canceled by Mia Member: wrong build/);
    await waitForStatus(owner, request.id, 'Canceled');
    await refused(who.alice.socket, 'request.approve', { requestId: request.id }, 'CONFLICT');
  });

  it('an admin cancels someone else\'s request; another member and a viewer may not', async () => {
    const { request } = await submitTo(waiting.slug);
    await refused(who.otto.socket, 'request.cancel', { requestId: request.id }, 'FORBIDDEN');
    await refused(who.alice.socket, 'request.cancel', { requestId: request.id }, 'FORBIDDEN');
    await refused(who.viewer.socket, 'request.cancel', { requestId: request.id }, 'FORBIDDEN');
    expect((await ok(command(owner, 'request.get', { requestId: request.id }))).request.workflowStatus).toBe('WaitingForApproval');
    const canceled = await ok<SigningRequest>(command(who.admin.socket, 'request.cancel', { requestId: request.id }));
    expect(canceled).toMatchObject({ workflowStatus: 'Canceled', isFinalStatus: true });
    expect(canceled.failureReason).toMatch(/Adam Admin/);
  });

  it('a Completed request cannot be canceled', async () => {
    const { request } = await submitTo(instant.slug);
    await waitForStatus(owner, request.id, 'Completed');
    await refused(who.member.socket, 'request.cancel', { requestId: request.id }, 'CONFLICT');
    await refused(who.admin.socket, 'request.cancel', { requestId: request.id }, 'CONFLICT');
  });
});

describe('expiry', () => {
  it('a request still waiting for approval when its time is up becomes Canceled, saying it expired', async () => {
    // A node of the same installation whose requests expire after 1.8 s.
    const hasty = await startNode({ ...config, SIGNET_REQUEST_EXPIRY_HOURS: 0.0005, nodeId: 'hasty' });
    extraNodes.push(hasty);
    const policy = await createPolicy(owner, {
      projectId: project.id,
      slug: 'expiring',
      certificateId: ecCert.id,
      submitters: [who.member.userId],
      approvers: [who.alice.userId],
      requiredApprovals: 1,
    });
    const { request } = await submitTo(policy.slug, { via: hasty });
    expect(request.workflowStatus).toBe('WaitingForApproval');
    const lifetime = Date.parse(request.expiresAt) - Date.parse(request.createdAt);
    expect(lifetime).toBeGreaterThan(1000);
    expect(lifetime).toBeLessThan(3000);

    const expired = await waitForStatus(owner, request.id, 'Canceled', { timeoutMs: 20_000 });
    expect(expired).toMatchObject({ status: 'Canceled', isFinalStatus: true, approvals: [] });
    expect(expired.failureReason).toMatch(/expire/i);
    expect(Date.parse(expired.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(request.expiresAt));
    await refused(who.alice.socket, 'request.approve', { requestId: request.id }, 'CONFLICT');
    const entries = (await auditLog(node, org.orgId)).filter((e) => e.target.id === request.id);
    expect(entries.map((e) => e.action)).toEqual(['request.submit', 'request.expire']);
    expect(entries[1]!.actor.type).toBe('system');
  });
});

describe('re-submit', () => {
  it('from a final request to another policy of the project: linked, same artifact, needs the new policy\'s approval', async () => {
    const releaseCert = await generateCertificate(owner, 'release', { algorithm: 'RSA-2048', type: 'release' });
    const testing = await createPolicy(owner, { projectId: project.id, slug: 'test-signing', certificateId: ecCert.id, submitters: [who.member.userId] });
    const release = await createPolicy(owner, {
      projectId: project.id,
      slug: 'release-signing',
      certificateId: releaseCert.id,
      submitters: [who.member.userId],
      approvers: [who.alice.userId],
      requiredApprovals: 1,
    });
    const locked = await createPolicy(owner, { projectId: project.id, slug: 'admins-only', certificateId: ecCert.id, submitters: [who.admin.userId] });

    const { request: original, artifact } = await submitTo(testing.slug);
    await waitForStatus(owner, original.id, 'Completed');

    const ownerResubmitted = waitForNotifications(owner, (n) => n.kind === 'request.resubmitted', 1);
    const resubmitted = await ok<SigningRequest>(
      command(who.member.socket, 'request.resubmit', { requestId: original.id, policyId: release.id, description: 'release 1.0' }),
    );
    expect(resubmitted.id).not.toBe(original.id);
    expect(resubmitted).toMatchObject({
      resubmittedFromId: original.id,
      policyId: release.id,
      policySlug: 'release-signing',
      projectId: project.id,
      workflowStatus: 'WaitingForApproval',
      status: 'WaitingForApproval',
      requiredApprovals: 1,
      description: 'release 1.0',
      submitterId: who.member.userId,
    });
    expect(resubmitted.artifact).toEqual(original.artifact);
    expect((await ownerResubmitted).some((n) => n.link === `/requests/${resubmitted.id}`)).toBe(true);

    // Only a final request can be re-submitted; only a submitter of the new policy may.
    await refused(who.member.socket, 'request.resubmit', { requestId: resubmitted.id, policyId: testing.id }, 'CONFLICT');
    await refused(who.member.socket, 'request.resubmit', { requestId: original.id, policyId: locked.id }, 'FORBIDDEN');

    await ok(command(who.alice.socket, 'request.approve', { requestId: resubmitted.id, comment: 'ship it' }));
    await waitForStatus(owner, resubmitted.id, 'Completed');
    expect(await download(node, org.slug, memberToken, resubmitted.id, 'unsigned-artifact')).toEqual(artifact);
    const signature = await download(node, org.slug, memberToken, resubmitted.id, 'signed-artifact');
    expect(verifyWithOpenssl(signature, artifact, await certificatePem(owner, releaseCert.id)).status).toBe(0);
    expect(verifyWithOpenssl(signature, artifact, await certificatePem(owner, ecCert.id)).status).not.toBe(0);
    // The original is untouched.
    expect((await ok(command(owner, 'request.get', { requestId: original.id }))).request).toMatchObject({ workflowStatus: 'Completed', policySlug: 'test-signing' });
  });
});

describe('certificates that cannot sign', () => {
  it('a disabled certificate fails the request with a reason naming it disabled', async () => {
    const certificate = await generateCertificate(owner, 'soon-disabled');
    const policy = await createPolicy(owner, { projectId: project.id, slug: 'uses-disabled', certificateId: certificate.id, submitters: [who.member.userId] });
    const disabled = await ok<Certificate>(command(owner, 'certificate.update', { certificateId: certificate.id, version: certificate.version, disabled: true }));
    expect(disabled.disabled).toBe(true);
    const { request } = await submitTo(policy.slug);
    const failed = await waitForStatus(owner, request.id, 'ProcessingFailed');
    expect(failed).toMatchObject({ status: 'Failed', isFinalStatus: true, signature: null });
    expect(failed.failureReason).toMatch(/disabled/);
    expect(failed.failureReason).toContain(certificate.name);
    const signed = await fetch(`${node.url}/api/v1/orgs/${org.slug}/signing-requests/${request.id}/signed-artifact`, { headers: { authorization: `Bearer ${memberToken}` } });
    expect(signed.status).toBe(409);
  });

  it('an expired certificate (imported PEM made with openssl) fails the request with a reason about expiry', async () => {
    const material = expiredCertificate();
    const imported = await ok<IssuedCertificate>(
      command(owner, 'certificate.import', { slug: 'expired', name: 'Expired 2020', type: 'test', format: 'pem', ...material }),
    );
    expect(Date.parse(imported.notAfter)).toBeLessThan(Date.now());
    const policy = await createPolicy(owner, { projectId: project.id, slug: 'uses-expired', certificateId: imported.id, submitters: [who.member.userId] });
    const { request } = await submitTo(policy.slug);
    const failed = await waitForStatus(owner, request.id, 'ProcessingFailed');
    expect(failed).toMatchObject({ status: 'Failed', isFinalStatus: true });
    expect(failed.failureReason).toMatch(/expired/i);
    expect(failed.failureReason).toContain('Expired 2020');
  });
});

describe('several nodes, one queue', () => {
  it('two nodes sharing Redis complete each of 10 requests exactly once', async () => {
    const nodeB = await startNode({ ...config, nodeId: 'node-b' });
    extraNodes.push(nodeB);
    const policy = await createPolicy(owner, { projectId: project.id, slug: 'fleet', certificateId: ecCert.id, submitters: [who.member.userId] });
    const submitted = await Promise.all(
      Array.from({ length: 10 }, (_, i) => submitTo(policy.slug, { via: i % 2 ? nodeB : node })),
    );
    await Promise.all(submitted.map(({ request }) => waitForStatus(owner, request.id, 'Completed', { timeoutMs: 30_000 })));
    const entries = await auditLog(node, org.orgId);
    const pem = await certificatePem(owner, ecCert.id);
    for (const { request, artifact } of submitted) {
      const mine = entries.filter((e) => e.target.id === request.id);
      expect(mine.filter((e) => e.action === 'request.complete'), request.id).toHaveLength(1);
      expect(mine.filter((e) => e.action === 'request.process'), request.id).toHaveLength(1);
      expect(versionsSeen(owner, request.id).filter((r) => r.workflowStatus === 'Completed')).toHaveLength(1);
      const signature = await download(nodeB, org.slug, memberToken, request.id, 'signed-artifact');
      expect(verifyWithOpenssl(signature, artifact, pem).status).toBe(0);
    }
  });
});

describe('a node that dies while signing', () => {
  it('its stalled job is retried by another node, which completes the request', async () => {
    const crashConfig = testConfig({
      SIGNET_ARTIFACT_DIR: path.join(artifactDir, 'crash'),
      SIGNET_JOB_LOCK_MS: '1000',
      SIGNET_RATE_LIMIT_PER_MINUTE: '100000',
    });
    // Set the installation up with an in-test node, then stop it so only the child has workers.
    const seeder = await startNode(crashConfig);
    extraNodes.push(seeder);
    const crashOrg = await seedOrg(seeder);
    const ownerCookie = await signIn(seeder, crashOrg.users.owner);
    const setupOwner = await connect(seeder, { cookie: ownerCookie });
    const setupMember = await connect(seeder, { cookie: await signIn(seeder, crashOrg.users.member) });
    sockets.push(setupOwner, setupMember);
    const crashProject = await createProject(setupOwner, 'phoenix');
    const certificate = await generateCertificate(setupOwner, 'phoenix-cert');
    const policy = await createPolicy(setupOwner, { projectId: crashProject.id, slug: 'auto', certificateId: certificate.id, submitters: [crashOrg.users.member.userId] });
    const token = await createApiKey(setupMember);
    const pem = await certificatePem(setupOwner, certificate.id);
    setupOwner.close();
    setupMember.close();
    extraNodes.splice(extraNodes.indexOf(seeder), 1);
    await seeder.close();

    const child = await spawnNodeProcess(crashConfig, {
      SIGNET_NODE_ID: 'doomed-child',
      SIGNET_JOB_LOCK_MS: '1000',
      SIGNET_FAULT_CRASH_BEFORE_SIGNING: 'true',
    });
    children.push(child);
    const childUrl = child.url;

    const artifact = randomArtifact(10_000);
    const { request } = await submitTo(policy.slug, { via: { url: childUrl }, token, orgSlug: crashOrg.slug, projectSlug: crashProject.slug, artifact });
    expect(request.workflowStatus).toBe('QueuedForProcessing');
    const exit = await child.exited;
    expect(exit, child.stderr()).toEqual({ code: 137, signal: null });

    // The child committed Processing, then died before signing: read it straight from Redis.
    const redis = await connectRedis(redisUrl());
    try {
      const stored = JSON.parse((await redis.get(seeder.signet.keys.request(request.id)))!);
      expect(stored).toMatchObject({ workflowStatus: 'Processing', status: 'InProgress', isFinalStatus: false, signature: null });
    } finally {
      redis.disconnect();
    }

    // Now another node of the installation: its worker finds the job stalled and runs it again.
    const rescuer = await startNode({ ...crashConfig, nodeId: 'rescuer' });
    extraNodes.push(rescuer);
    const watcher = await connect(rescuer, { cookie: ownerCookie });
    sockets.push(watcher);
    const completed = await waitForStatus(watcher, request.id, 'Completed', { ask: true, timeoutMs: 20_000 });
    expect(completed).toMatchObject({ status: 'Completed', isFinalStatus: true });
    const signature = await download(rescuer, crashOrg.slug, token, request.id, 'signed-artifact');
    const verified = verifyWithOpenssl(signature, artifact, pem);
    expect(verified.status, verified.stderr).toBe(0);
    const actions = (await auditLog(rescuer, crashOrg.orgId)).filter((e) => e.target.id === request.id).map((e) => e.action);
    expect(actions).toEqual(['request.submit', 'request.process', 'request.complete']);
  }, 60_000);
});

describe('notifications (SPEC §5 defaults and per-policy levels)', () => {
  it('approvers, the submitter, admins and owner, and users with All or None each hear what they should', async () => {
    const policy = await createPolicy(owner, {
      projectId: project.id,
      slug: 'noisy',
      certificateId: ecCert.id,
      submitters: [who.member.userId],
      approvers: [who.alice.userId, who.bob.userId],
      requiredApprovals: 1,
    });
    await ok(command(who.admin.socket, 'notification.settings', { set: [{ policyId: policy.id, level: 'none' }] }));
    const viewerSettings = await ok(command(who.viewer.socket, 'notification.settings', { set: [{ policyId: policy.id, level: 'all' }] }));
    expect(viewerSettings.policies).toMatchObject({ [policy.id]: 'all' });

    const { request } = await submitTo(policy.slug);
    const link = `/requests/${request.id}`;
    const about = (n: any) => n.link === link;

    // The approvers are told live that their approval is required.
    const [aliceAsked] = await waitForNotifications(who.alice.socket, about, 1);
    expect(aliceAsked).toMatchObject({ kind: 'request.approvalRequired', userId: who.alice.userId, policyId: policy.id });
    expect(aliceAsked.title).toMatch(/approval is required/i);
    await waitForNotifications(who.bob.socket, about, 1);

    await ok(command(who.alice.socket, 'request.approve', { requestId: request.id }));
    await waitForStatus(owner, request.id, 'Completed');

    const expected: Array<[Person, Array<[string, string | null]>]> = [
      // The submitter: every status change after their own submission.
      [who.member, [['request.status', 'QueuedForProcessing'], ['request.status', 'Processing'], ['request.status', 'Completed']]],
      // All: every change of every request of the policy.
      [who.viewer, [['request.status', 'WaitingForApproval'], ['request.status', 'QueuedForProcessing'], ['request.status', 'Processing'], ['request.status', 'Completed']]],
      // Owner (default): completed requests.
      [who.owner, [['request.completed', null]]],
      // The approver who acted hears nothing more; the other one hears the need ended.
      [who.alice, [['request.approvalRequired', null]]],
      [who.bob, [['request.approvalRequired', null], ['request.approvalNoLongerRequired', null]]],
      // None: nothing at all, not even as an admin; and an uninvolved member: nothing.
      [who.admin, []],
      [who.otto, []],
    ];
    // Titles read "project/file: <label>"; map the label back to the workflow status.
    const statusOfLabel = new Map(Object.entries(STATUS_LABELS).map(([status, label]) => [label, status]));
    const shape = (n: any): [string, string | null] => [n.kind, n.kind === 'request.status' ? statusOfLabel.get(/: ([^:]+)$/.exec(n.title)![1]!)! : null];
    for (const [person, wanted] of expected) {
      const live = await waitForNotifications(person.socket, about, wanted.length);
      // The inbox is written in the same commit as each change, so after Completed it is complete.
      const inbox = (await ok<{ items: any[] }>(command(person.socket, 'notification.list', { limit: 200 }))).items.filter(about);
      expect(live.map(shape), person.name).toEqual(wanted);
      expect(inbox.map(shape).sort(), person.name).toEqual([...wanted].sort());
      expect(live.map((n) => n.id).sort()).toEqual(inbox.map((n) => n.id).sort());
      expect(inbox.every((n) => n.userId === person.userId && n.readAt === null)).toBe(true);
    }
  });
});
