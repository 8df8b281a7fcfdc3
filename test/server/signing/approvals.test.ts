// Approving without stalling, safely (SPEC §4): pre-approved windows (k co-signers for a k-of-n
// policy, used atomically by concurrent submissions, revocable at once, ending when used up or
// expired), break-glass (an admin approves alone with a reason, where the policy allows it; every
// approver and admin hears of it on every channel) and what an approver sees (the previous signed
// request of the policy and the commits since). Over a real node, Redis, BullMQ, SMTP and a chat
// receiver on loopback; waits are on events, never sleeps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalGrant, SigningPolicy, SigningRequest } from '../../../src/lib/shared/entities.js';
import { auditLog, command, nextEvent, testConfig, type ClientSocket } from '../../helpers/signet.js';
import {
  createApiKey,
  createPolicy,
  createSigningProject,
  must,
  people,
  randomArtifact,
  submitOk,
  waitForNotifications,
  waitForStatus,
  type SigningProject,
} from '../../helpers/signing.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp.js';
import { startHttpReceiver, type HttpReceiver } from '../../helpers/receivers.js';
import { startTestIssuer, type TestIssuer } from '../../helpers/oidcIssuer.js';
import { deliveryQueues, type DeliveryQueues } from '../../helpers/outreach.js';
import { useSignet } from '../../helpers/signetFixture.js';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

let fixture: SigningProject;
let ci: { userId: string; token: string };
let memberToken: string;
let aliceToken: string;
let adminToken: string;
let smtp: TestSmtpServer;
let chat: HttpReceiver;
let artifactDir: string;
let deliveries: DeliveryQueues;
const fx = useSignet({
  people: { alice: 'Alice Approver', bob: 'Bob Approver', carol: 'Carol Approver' },
  config: async () => {
    [smtp, chat] = await Promise.all([startSmtpServer(), startHttpReceiver()]);
    fx.onClose(() => smtp.close());
    fx.onClose(() => chat.close());
    artifactDir = fx.tempDir('signet-approvals-');
    return testConfig({
      SIGNET_ARTIFACT_DIR: artifactDir,
      SIGNET_RATE_LIMIT_PER_MINUTE: '100000',
      SIGNET_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      SIGNET_MAIL_FROM: 'signet@signet.test',
    });
  },
});
const { who } = fx;

beforeAll(async () => {
  fixture = await createSigningProject(who.owner.socket, { slug: 'gadget' });
  const bot = await must(who.owner.socket, 'ciUser.create', { name: 'Release Bot' });
  ci = { userId: bot.ciUser.userId, token: bot.token };
  [memberToken, aliceToken, adminToken] = await Promise.all([createApiKey(who.member.socket), createApiKey(who.alice.socket), createApiKey(who.admin.socket)]);
  deliveries = deliveryQueues(fx.node);
  fx.onClose(() => deliveries.close());
  await must(who.owner.socket, 'chatChannel.create', { projectId: fixture.project.id, service: 'slack', name: '#releases', url: `${chat.url}/slack` });
});

async function refused(socket: ClientSocket, name: string, input: unknown, code: string): Promise<string> {
  const ack = await command(socket, name, input);
  expect(ack.ok, `${name} should fail with ${code}`).toBe(false);
  expect(ack.error?.code, ack.error?.message).toBe(code);
  return ack.error!.message;
}

async function submit(policySlug: string, token: string, fields: Record<string, string> = {}): Promise<SigningRequest & Record<string, any>> {
  return submitOk(fx.node, fx.org.slug, token, { projectSlug: fixture.project.slug, signingPolicySlug: policySlug, artifact: randomArtifact(), fileName: 'gadget.exe', fields });
}

const grantsOf = (policyId: string) => must<ApprovalGrant[]>(who.owner.socket, 'grant.list', { policyId });
const grantOf = async (policyId: string, grantId: string) => (await grantsOf(policyId)).find((g) => g.id === grantId)!;

describe('pre-approved windows', () => {
  let policy: SigningPolicy;

  beforeAll(async () => {
    // 2 of 3; Alice both approves and submits.
    policy = await createPolicy(who.owner.socket, {
      projectId: fixture.project.id,
      slug: 'windowed',
      certificateId: fixture.certificate.id,
      submitters: [ci.userId, who.member.userId, who.alice.userId],
      approvers: [who.alice.userId, who.bob.userId, who.carol.userId],
      requiredApprovals: 2,
    });
  });

  /** A window for `granteeId` proposed by Alice and co-signed by Bob. */
  async function openWindow(granteeId: string, maxSignatures: number, hours = 4): Promise<ApprovalGrant> {
    const proposed = await must<ApprovalGrant>(who.alice.socket, 'grant.propose', { policyId: policy.id, granteeId, maxSignatures, hours });
    return must<ApprovalGrant>(who.bob.socket, 'grant.cosign', { grantId: proposed.id });
  }

  it('a 2-of-3 window waits for a second approver, who sees it live and is told; requests inside it then skip approval and record it', async () => {
    const seenByBob = nextEvent(who.bob.socket, 'change', (event) => event.entity === 'grant' && (event.data as ApprovalGrant).granteeId === ci.userId);
    const proposed = await must<ApprovalGrant>(who.alice.socket, 'grant.propose', {
      policyId: policy.id,
      granteeId: ci.userId,
      maxSignatures: 2,
      hours: 1.5,
      comment: 'release train 4.2',
    });
    expect(proposed).toMatchObject({ status: 'proposed', requiredCosigners: 2, used: 0, expiresAt: null, cosigners: [{ userId: who.alice.userId }] });
    expect(((await seenByBob).data as ApprovalGrant).id).toBe(proposed.id);
    const [note] = await waitForNotifications(who.bob.socket, (n) => n.kind === 'grant.proposed', 1);
    expect(note.title).toContain('Release Bot');
    await smtp.waitFor(who.carol.email);

    // Proposed is not open: the CI user's request waits for approval as usual.
    expect((await submit(policy.slug, ci.token)).workflowStatus).toBe('WaitingForApproval');
    expect(await refused(who.alice.socket, 'grant.cosign', { grantId: proposed.id }, 'CONFLICT')).toMatch(/already/);

    const opened = await must<ApprovalGrant>(who.bob.socket, 'grant.cosign', { grantId: proposed.id });
    expect(opened.status).toBe('active');
    expect(opened.cosigners.map((c) => c.name)).toEqual(['Alice Approver', 'Bob Approver']);
    expect(Date.parse(opened.expiresAt!) - Date.parse(opened.activatedAt!)).toBe(1.5 * 3600_000);
    expect(await refused(who.carol.socket, 'grant.cosign', { grantId: proposed.id }, 'CONFLICT')).toMatch(/active/);

    const request = await submit(policy.slug, ci.token);
    expect(request).toMatchObject({
      workflowStatus: 'QueuedForProcessing',
      preApproval: { grantId: proposed.id, signature: 1, maxSignatures: 2, cosigners: [{ name: 'Alice Approver' }, { name: 'Bob Approver' }] },
    });
    expect(request.approvals.map((a: { userId: string }) => a.userId)).toEqual([who.alice.userId, who.bob.userId]);
    await waitForStatus(who.owner.socket, request.id, 'Completed', { ask: true });
    expect((await grantOf(policy.id, proposed.id)).used).toBe(1);

    // Audited: the submission names the grant as its approval, with what remains of it.
    const submitted = (await auditLog(fx.node, fx.org.orgId)).find((entry) => entry.target.id === request.id && entry.action === 'request.submit')!;
    expect(submitted.changes.preApproval!.after).toMatchObject({ grantId: proposed.id });
    expect(submitted.changes.grantRemaining).toEqual({ before: 2, after: 1 });
    const entries = (await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.target.id === proposed.id);
    expect(entries.map((entry) => [entry.action, entry.actor.name])).toEqual([
      ['grant.propose', 'Alice Approver'],
      ['grant.cosign', 'Bob Approver'],
    ]);

    // The second signature uses it up; the third request waits.
    expect((await submit(policy.slug, ci.token)).preApproval).toMatchObject({ signature: 2 });
    expect((await grantOf(policy.id, proposed.id)).status).toBe('usedUp');
    expect((await submit(policy.slug, ci.token)).workflowStatus).toBe('WaitingForApproval');
  });

  it('a submitter never grants themselves a window, nor co-signs one for themselves; only approvers grant', async () => {
    expect(await refused(who.alice.socket, 'grant.propose', { policyId: policy.id, granteeId: who.alice.userId, maxSignatures: 1, hours: 1 }, 'FORBIDDEN')).toMatch(/themselves/);
    const forAlice = await must<ApprovalGrant>(who.bob.socket, 'grant.propose', { policyId: policy.id, granteeId: who.alice.userId, maxSignatures: 1, hours: 1 });
    expect(await refused(who.alice.socket, 'grant.cosign', { grantId: forAlice.id }, 'FORBIDDEN')).toMatch(/themselves/);
    expect(await refused(who.member.socket, 'grant.propose', { policyId: policy.id, granteeId: ci.userId, maxSignatures: 1, hours: 1 }, 'FORBIDDEN')).toMatch(/not an approver/);
    expect(await refused(who.admin.socket, 'grant.cosign', { grantId: forAlice.id }, 'FORBIDDEN')).toMatch(/not an approver/);
    // (The worker may audit earlier requests meanwhile: only what the admin did counts.)
    const entry = (await auditLog(fx.node, fx.org.orgId)).filter((e) => e.actor.id === who.admin.userId).at(-1)!;
    expect(entry).toMatchObject({ action: 'grant.cosign', outcome: 'denied', target: { type: 'command' } });
    expect(await refused(who.bob.socket, 'grant.propose', { policyId: policy.id, granteeId: who.viewer.userId, maxSignatures: 1, hours: 1 }, 'INVALID_INPUT')).toMatch(/not a submitter/);
    expect(await refused(who.bob.socket, 'grant.propose', { policyId: policy.id, granteeId: ci.userId, maxSignatures: 0, hours: 1 }, 'INVALID_INPUT')).toMatch(/maxSignatures/);
    expect(await refused(who.bob.socket, 'grant.propose', { policyId: policy.id, granteeId: ci.userId, maxSignatures: 1, hours: 0.1 }, 'INVALID_INPUT')).toMatch(/hours/);
  });

  it('parallel submissions never spend more signatures than the window holds', async () => {
    const grant = await openWindow(who.member.userId, 3);
    const results = await Promise.all(Array.from({ length: 8 }, () => submit(policy.slug, memberToken)));
    const preApproved = results.filter((r) => r.preApproval);
    expect(preApproved).toHaveLength(3);
    expect(preApproved.map((r) => r.preApproval!.signature).sort()).toEqual([1, 2, 3]);
    expect(results.filter((r) => r.workflowStatus === 'WaitingForApproval')).toHaveLength(5);
    expect(await grantOf(policy.id, grant.id)).toMatchObject({ used: 3, status: 'usedUp' });
  });

  it('a window is revoked at once by an admin who is not its approver, live; later requests wait; a member who is neither cannot', async () => {
    const grant = await openWindow(ci.userId, 5);
    expect(await refused(who.member.socket, 'grant.revoke', { grantId: grant.id }, 'FORBIDDEN')).toMatch(/policy:write/);
    const seenByAlice = nextEvent(who.alice.socket, 'change', (event) => event.entity === 'grant' && event.id === grant.id && (event.data as ApprovalGrant).status === 'revoked');
    const revoked = await must<ApprovalGrant>(who.admin.socket, 'grant.revoke', { grantId: grant.id, reason: 'the bot token leaked' });
    expect(revoked).toMatchObject({ status: 'revoked', revokedBy: { name: 'Adam Admin' }, revokeReason: 'the bot token leaked' });
    await seenByAlice;
    expect((await submit(policy.slug, ci.token)).workflowStatus).toBe('WaitingForApproval');
    expect(await refused(who.carol.socket, 'grant.cosign', { grantId: grant.id }, 'CONFLICT')).toMatch(/revoked/);
    expect(await refused(who.alice.socket, 'grant.revoke', { grantId: grant.id }, 'CONFLICT')).toMatch(/revoked/);
  });

  it('an expired window stops applying, and so does one whose co-signer is no longer an approver', async () => {
    const expiring = await openWindow(who.member.userId, 5);
    // Time passes: the window's end moves into the past.
    const key = fx.node.signet.keys.grant(expiring.id);
    const stored = JSON.parse((await fx.node.signet.redis.get(key))!) as ApprovalGrant;
    await fx.node.signet.redis.set(key, JSON.stringify({ ...stored, expiresAt: new Date(Date.now() - 1000).toISOString() }));
    expect((await submit(policy.slug, memberToken)).workflowStatus).toBe('WaitingForApproval');
    expect(await refused(who.alice.socket, 'grant.revoke', { grantId: expiring.id }, 'CONFLICT')).toMatch(/expired/);

    const backed = await openWindow(ci.userId, 5);
    expect((await submit(policy.slug, ci.token)).preApproval).toMatchObject({ grantId: backed.id });
    const current = (await must<SigningPolicy[]>(who.owner.socket, 'policy.list', { projectId: fixture.project.id })).find((p) => p.id === policy.id)!;
    await must(who.owner.socket, 'policy.update', { policyId: policy.id, version: current.version, approvers: [who.alice.userId, who.carol.userId] });
    expect((await submit(policy.slug, ci.token)).workflowStatus).toBe('WaitingForApproval');
    const latest = (await must<SigningPolicy[]>(who.owner.socket, 'policy.list', { projectId: fixture.project.id })).find((p) => p.id === policy.id)!;
    policy = await must(who.owner.socket, 'policy.update', { policyId: policy.id, version: latest.version, approvers: [who.alice.userId, who.bob.userId, who.carol.userId] });
  });
});

describe('break-glass', () => {
  let glass: SigningPolicy;
  let sealed: SigningPolicy;

  beforeAll(async () => {
    const base = { projectId: fixture.project.id, certificateId: fixture.certificate.id, submitters: [who.member.userId, who.admin.userId], approvers: [who.alice.userId, who.bob.userId], requiredApprovals: 2 };
    glass = await must(who.owner.socket, 'policy.create', { ...base, slug: 'glass', name: 'Glass', allowBreakGlass: true });
    sealed = await createPolicy(who.owner.socket, { ...base, slug: 'sealed' });
  });

  const REASON = 'Production hotfix for CVE-2026-1234; both approvers are unreachable on a flight';

  it('an admin approves alone with a reason: the request is marked and signed, and every approver and admin hears of it on every channel', async () => {
    const request = await submit(glass.slug, memberToken);
    await must(who.alice.socket, 'request.approve', { requestId: request.id, comment: 'one of two' });
    const broken = await must<SigningRequest>(who.admin.socket, 'request.breakGlass', { requestId: request.id, reason: REASON });
    expect(broken).toMatchObject({ workflowStatus: 'QueuedForProcessing', breakGlass: { userId: who.admin.userId, name: 'Adam Admin', reason: REASON } });
    expect(broken.approvals).toHaveLength(1);
    const completed = await waitForStatus(who.owner.socket, request.id, 'Completed', { ask: true });
    expect(completed.breakGlass).toMatchObject({ reason: REASON });

    const entry = (await auditLog(fx.node, fx.org.orgId)).find((e) => e.target.id === request.id && e.action === 'request.breakGlass')!;
    expect(entry).toMatchObject({ outcome: 'ok', actor: { id: who.admin.userId }, changes: { breakGlass: { after: { by: 'Adam Admin', reason: REASON, approvalsSoFar: '1 of 2' } } } });

    for (const person of [who.alice, who.bob, who.owner]) {
      const [note] = await waitForNotifications(person.socket, (n) => n.kind === 'request.breakGlass' && n.link === `/requests/${request.id}`, 1);
      expect(note.body).toContain(REASON);
    }
    expect(who.admin.socket.received.some((r) => r.event === 'notification' && r.data.notification.kind === 'request.breakGlass')).toBe(false);
    // Mail and chat: once everything the commits owed is delivered.
    await deliveries.settled();
    for (const person of [who.alice, who.bob, who.owner]) {
      expect(smtp.to(person.email).filter((m) => m.subject.includes('Break-glass') && m.text.includes(REASON)), person.email).toHaveLength(1);
    }
    // Its own message (the one saying it was signed carries the mark among its facts).
    const posts = chat.to('/slack').map((p) => JSON.parse(p.body)).filter((p) => p.text.startsWith('Break-glass:'));
    expect(posts).toHaveLength(1);
    expect(posts[0].text).toContain('approved by Adam Admin alone');
    expect(JSON.stringify(posts[0].blocks)).toContain(REASON);

    // The REST API shows the mark too.
    const rest = await fetch(`${fx.node.url}/api/v1/orgs/${fx.org.slug}/signing-requests/${request.id}`, { headers: { authorization: `Bearer ${memberToken}` } });
    expect((await rest.json()).breakGlass).toMatchObject({ name: 'Adam Admin', reason: REASON });
  });

  it('refused where the policy does not allow it: FORBIDDEN, audited, nothing changes', async () => {
    const request = await submit(sealed.slug, memberToken);
    expect(await refused(who.admin.socket, 'request.breakGlass', { requestId: request.id, reason: REASON }, 'FORBIDDEN')).toMatch(/does not allow break-glass/);
    expect((await auditLog(fx.node, fx.org.orgId)).filter((e) => e.actor.id === who.admin.userId).at(-1)).toMatchObject({ action: 'request.breakGlass', outcome: 'denied' });
    expect((await must(who.owner.socket, 'request.get', { requestId: request.id })).request).toMatchObject({ workflowStatus: 'WaitingForApproval', version: 1 });
  });

  it('a member approver cannot break the glass, an admin cannot on their own request, and the reason is mandatory', async () => {
    const mine = await submit(glass.slug, adminToken);
    expect(await refused(who.admin.socket, 'request.breakGlass', { requestId: mine.id, reason: REASON }, 'FORBIDDEN')).toMatch(/own request/);
    expect(await refused(who.alice.socket, 'request.breakGlass', { requestId: mine.id, reason: REASON }, 'FORBIDDEN')).toMatch(/policy:write/);
    const ack = await command(who.owner.socket, 'request.breakGlass', { requestId: mine.id, reason: 'urgent' });
    expect(ack.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'reason' }] });
    const unchanged = (await must(who.owner.socket, 'request.get', { requestId: mine.id })).request;
    expect(unchanged).toMatchObject({ workflowStatus: 'WaitingForApproval', version: 1 });
    expect(unchanged.breakGlass).toBeUndefined();
  });
});

describe('what an approver sees', () => {
  let idp: TestIssuer;
  let reviewed: SigningPolicy;
  const SHA_A = 'a'.repeat(40);
  const SHA_B = 'b'.repeat(39) + 'c';

  beforeAll(async () => {
    idp = await startTestIssuer();
    await must(who.admin.socket, 'buildSystem.create', { name: 'GitHub Actions (test keys)', issuer: GITHUB_ISSUER, audience: idp.audience, jwksUrl: idp.jwksUrl });
    reviewed = await createPolicy(who.owner.socket, {
      projectId: fixture.project.id,
      slug: 'reviewed',
      certificateId: fixture.certificate.id,
      submitters: [ci.userId],
      approvers: [who.alice.userId],
      requiredApprovals: 1,
      originVerification: true,
    });
  });
  afterAll(() => idp?.close());

  const built = async (sha: string) =>
    submit(reviewed.slug, ci.token, { originToken: await idp.sign({ iss: GITHUB_ISSUER, server_url: undefined, sha, repository: 'acme/gadget', sub: 'repo:acme/gadget:ref:refs/heads/main' }) });

  it('the previous signed request of the policy, and a compare link from its commit to this one', async () => {
    const first = await built(SHA_A);
    expect((await must(who.alice.socket, 'request.get', { requestId: first.id })).previousSigned).toBeNull();
    await must(who.alice.socket, 'request.approve', { requestId: first.id });
    await waitForStatus(who.alice.socket, first.id, 'Completed', { ask: true });

    const second = await built(SHA_B);
    const seen = await must(who.alice.socket, 'request.get', { requestId: second.id });
    expect(seen.request).toMatchObject({ artifact: { fileName: 'gadget.exe', size: 4096 }, origin: { verified: true, commit: SHA_B, repository: 'acme/gadget' } });
    expect(seen.previousSigned).toMatchObject({
      id: first.id,
      origin: { commit: SHA_A },
      commitRange: { from: SHA_A, to: SHA_B },
      compareUrl: `https://github.com/acme/gadget/compare/${SHA_A}...${SHA_B}`,
    });
    // Not yet signed, a request is nobody's "previous signed": the first stays without one.
    expect((await must(who.alice.socket, 'request.get', { requestId: first.id })).previousSigned).toBeNull();
  });
});
