// Email (SPEC §5): through the operator's SMTP server, approvers hear when their approval is needed
// and when that need ends, submitters of every status change, admins and the owner of completed and
// re-submitted requests — the inbox's audiences, under the same per-policy All / Default / None, plus a
// personal email switch. Invitation links are mailed to the person invited and to nobody else. Mail
// leaves from a queue, retried, and a commit whose node died before queueing its mail is not lost.
// The SMTP server is real (smtp-server on loopback, requiring a login); what arrived is parsed.
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { startSignetNode, type SignetNode } from '../../../server/index.js';
import { createLogger } from '../../../server/logger.js';
import type { SigningPolicy, SigningRequest } from '../../../src/lib/shared/entities.js';
import { auditLog, command, ORIGIN, redisUrl, seedOrg, snapshot, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import {
  createApiKey,
  createPolicy,
  createProject,
  generateCertificate,
  must,
  people,
  randomArtifact,
  submitOk,
  waitForStatus,
} from '../../helpers/signing.js';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../../helpers/smtp.js';
import { deliveryQueues, withoutQueueing, type DeliveryQueues } from '../../helpers/outreach.js';
import { useSignet, type SignetFixture } from '../../helpers/signetFixture.js';

const SMTP_USER = 'signet-mailer';
const SMTP_PASSWORD = 'smtp-Pa55word-never-logged';
const FROM = 'Signet <signet@signet.test>';

let smtp: TestSmtpServer;
// Every line the node logs, at debug level, to show that no credential reaches one.
const fx: SignetFixture<'approver'> = useSignet({
  config: async () => {
    smtp = await startSmtpServer({ user: SMTP_USER, password: SMTP_PASSWORD });
    fx.onClose(() => smtp.close());
    return testConfig({
      SIGNET_ARTIFACT_DIR: fx.tempDir('signet-email-'),
      SIGNET_SMTP_URL: `smtp://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:${smtp.port}`,
      SIGNET_MAIL_FROM: FROM,
      SIGNET_MAIL_ATTEMPTS: '3',
      SIGNET_RATE_LIMIT_PER_MINUTE: '100000',
    });
  },
  log: 'debug',
  people: { approver: 'Ada Approver' },
});
const { who } = fx;
let node: SignetNode;
let queues: DeliveryQueues;
let org: TestOrg;
let memberToken: string;
let policy: SigningPolicy;
let projectSlug: string;
const logs = () => fx.logged.join('');
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  ({ node, org } = fx);
  queues = deliveryQueues(node);
  fx.onClose(() => queues.close());
  fx.onClose(() => sockets.forEach((socket) => socket.close()));
  memberToken = await createApiKey(who.member.socket);
  const certificate = await generateCertificate(who.owner.socket, 'mail-cert');
  const project = await createProject(who.owner.socket, 'mailed-app');
  projectSlug = project.slug;
  policy = await createPolicy(who.owner.socket, {
    projectId: project.id,
    slug: 'release',
    certificateId: certificate.id,
    submitters: [who.member.userId],
    approvers: [who.admin.userId, who.approver.userId],
    requiredApprovals: 1,
  });
});

async function submit(fileName: string): Promise<SigningRequest> {
  return submitOk(node, org.slug, memberToken, { projectSlug, signingPolicySlug: policy.slug, artifact: randomArtifact(), fileName });
}

/** The mails each person has received so far. */
function counts(): Record<keyof typeof who, number> {
  return Object.fromEntries(Object.entries(who).map(([key, person]) => [key, smtp.to(person.email).length])) as Record<keyof typeof who, number>;
}

const subjects = (mails: ReceivedMail[]) => mails.map((mail) => mail.subject);
const linkTo = (request: { id: string }) => `${ORIGIN}/requests/${request.id}`;

describe('email notifications', () => {
  it('approvers are mailed when their approval is required: text and HTML bodies, a deep link, the request’s facts', async () => {
    const before = counts();
    const request = await submit('approve-me.zip');
    expect(request.workflowStatus).toBe('WaitingForApproval');
    for (const key of ['admin', 'approver'] as const) {
      const mails = await smtp.waitFor(who[key].email, before[key] + 1);
      const mail = mails.at(-1)!;
      expect(mail.subject).toBe(`[Org ${org.slug}] Your approval is required: mailed-app/approve-me.zip`);
      expect(mail.headers.get('from')).toMatchObject({ value: [{ name: 'Signet', address: 'signet@signet.test' }] });
      expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
      expect(mail.text).toContain('Mia Member asks to sign approve-me.zip with policy release.');
      expect(mail.text).toContain(`Open in Signet: ${linkTo(request)}`);
      expect(mail.text).toContain(`SHA-256: ${request.artifact.sha256}`);
      expect(mail.text).toContain('Approvals: 0 of 1 required');
      expect(mail.html).toContain(`href="${linkTo(request)}"`);
      expect(mail.html).toContain('Mia Member asks to sign approve-me.zip with policy release.');
      expect(mail.text).toContain(`${ORIGIN}/notifications`);
    }
    await queues.settled();
    // The submitter did it themselves; the owner and the viewer have no part in it.
    const after = counts();
    for (const key of ['member', 'owner', 'viewer'] as const) expect(after[key]).toBe(before[key]);
  });

  it('once one approver approves, the other hears the need ended, the submitter hears each status, admins and the owner hear of completion', async () => {
    const request = await submit('ship-it.zip');
    await queues.settled();
    const before = counts();
    await must(who.admin.socket, 'request.approve', { requestId: request.id, comment: 'fine' });
    await waitForStatus(who.owner.socket, request.id, 'Completed');
    await queues.settled();
    const since = (key: keyof typeof who) => smtp.to(who[key].email).slice(before[key]);

    expect(subjects(since('approver'))).toEqual([`[Org ${org.slug}] No longer needs your approval: mailed-app/ship-it.zip`]);
    // Each status change is its own mail; mails may arrive in any order.
    expect(since('member')).toHaveLength(3);
    expect(new Set(subjects(since('member')))).toEqual(
      new Set([`[Org ${org.slug}] mailed-app/ship-it.zip: Queued`, `[Org ${org.slug}] mailed-app/ship-it.zip: Processing`, `[Org ${org.slug}] mailed-app/ship-it.zip: Completed`]),
    );
    expect(subjects(since('owner'))).toEqual([`[Org ${org.slug}] Signed: mailed-app/ship-it.zip`]);
    expect(subjects(since('admin'))).toEqual([`[Org ${org.slug}] Signed: mailed-app/ship-it.zip`]);
    expect(since('viewer')).toEqual([]);
    for (const mail of [...since('member'), ...since('owner')]) expect(mail.text).toContain(linkTo(request));
  });

  it('a re-submitted request is mailed to the owner and admins (an admin who must approve it gets that mail instead)', async () => {
    const original = await submit('again.zip');
    await must(who.member.socket, 'request.cancel', { requestId: original.id, reason: 'wrong build' });
    await queues.settled();
    const before = counts();
    const resubmitted = await must<SigningRequest>(who.member.socket, 'request.resubmit', { requestId: original.id });
    await queues.settled();
    const mails = smtp.to(who.owner.email).slice(before.owner);
    expect(subjects(mails)).toEqual([`[Org ${org.slug}] Re-submitted: mailed-app/again.zip`]);
    expect(mails[0]!.text).toContain(linkTo(resubmitted));
    // The admin is also an approver of the new request: one mail, about what it asks of them.
    expect(subjects(smtp.to(who.admin.email).slice(before.admin))).toEqual([`[Org ${org.slug}] Your approval is required: mailed-app/again.zip`]);
  });

  it('None for a policy means no inbox notification and no mail; email off keeps the inbox and stops the mail; All brings every change', async () => {
    await must(who.owner.socket, 'notification.settings', { set: [{ policyId: policy.id, level: 'none' }] });
    await must(who.viewer.socket, 'notification.settings', { set: [{ policyId: policy.id, level: 'all' }] });
    const off = await must(who.admin.socket, 'notification.settings', { email: false });
    expect(off).toMatchObject({ email: false, emailConfigured: true });
    const inboxBefore = {
      owner: (await must(who.owner.socket, 'notification.list', {})).items.length,
      admin: (await must(who.admin.socket, 'notification.list', {})).items.length,
    };
    await queues.settled();
    const before = counts();

    const request = await submit('quiet.zip');
    await must(who.approver.socket, 'request.approve', { requestId: request.id, comment: 'ok' });
    await waitForStatus(who.owner.socket, request.id, 'Completed');
    await queues.settled();

    const after = counts();
    expect(after.owner).toBe(before.owner);
    expect((await must(who.owner.socket, 'notification.list', {})).items.length).toBe(inboxBefore.owner);
    expect(after.admin).toBe(before.admin);
    const adminInbox = (await must(who.admin.socket, 'notification.list', {})).items.slice(0, 3).map((n: { title: string }) => n.title);
    expect(adminInbox).toEqual(['Signed: mailed-app/quiet.zip', 'No longer needs your approval: mailed-app/quiet.zip', 'Your approval is required: mailed-app/quiet.zip']);
    const viewerMails = smtp.to(who.viewer.email).slice(before.viewer);
    expect(new Set(subjects(viewerMails))).toEqual(
      new Set(['Waiting for approval', 'Queued', 'Processing', 'Completed'].map((label) => `[Org ${org.slug}] mailed-app/quiet.zip: ${label}`)),
    );

    // Back to the defaults for the tests that follow.
    await must(who.owner.socket, 'notification.settings', { set: [{ policyId: policy.id, level: 'default' }] });
    await must(who.viewer.socket, 'notification.settings', { set: [{ policyId: policy.id, level: 'default' }] });
    expect(await must(who.admin.socket, 'notification.settings', { email: true })).toMatchObject({ email: true });
  });

  it('the email switch is each person’s own, shown by notification.settings, audited, and followed by their other tabs', async () => {
    expect(await must(who.viewer.socket, 'notification.settings', {})).toEqual({ defaultLevel: 'default', policies: {}, email: true, emailConfigured: true });
    const followed = new Promise((resolve) => who.viewer.socket.once('change', resolve));
    await must(who.viewer.socket, 'notification.settings', { email: false });
    expect(await followed).toMatchObject({ entity: 'notificationSettings', id: who.viewer.userId, data: { email: false } });
    expect(await must(who.viewer.socket, 'notification.settings', {})).toMatchObject({ email: false });
    expect(await must(who.member.socket, 'notification.settings', {})).toMatchObject({ email: true });
    const entry = (await auditLog(node, org.orgId)).filter((e) => e.action === 'notification.settings').at(-1);
    expect(entry).toMatchObject({ actor: { id: who.viewer.userId }, changes: { email: { before: true, after: false } } });
    const refused = await command(who.viewer.socket, 'notification.settings', { email: 'no' });
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', issues: [expect.objectContaining({ path: 'email' })] });
    await must(who.viewer.socket, 'notification.settings', { email: true });
  });

  it('a member whose role changes is told by email too, unless they turned email off', async () => {
    const members = await must<Array<{ userId: string; version: number }>>(who.owner.socket, 'member.list');
    const viewer = members.find((m) => m.userId === who.viewer.userId)!;
    await must(who.owner.socket, 'member.changeRole', { userId: viewer.userId, role: 'member', version: viewer.version });
    const [mail] = (await smtp.waitFor(who.viewer.email, counts().viewer + 1)).slice(-1);
    expect(mail!.subject).toBe(`[Org ${org.slug}] Your role changed`);
    expect(mail!.text).toContain(`Olivia Owner changed your role in Org ${org.slug} from viewer to member.`);
    expect(mail!.text).toContain(`${ORIGIN}/settings`);

    await must(who.viewer.socket, 'notification.settings', { email: false });
    const before = counts().viewer;
    await must(who.owner.socket, 'member.changeRole', { userId: viewer.userId, role: 'viewer', version: viewer.version + 1 });
    await queues.settled();
    expect(counts().viewer).toBe(before);
    expect((await must(who.viewer.socket, 'notification.list', {})).items[0]).toMatchObject({ kind: 'member.roleChanged', body: expect.stringContaining('from member to viewer') });
    await must(who.viewer.socket, 'notification.settings', { email: true });
  });

  it('an invitation link is mailed to the person invited and to nobody else, and is stored only sealed until sent', async () => {
    const all = smtp.mails.length;
    const invited = await must(who.owner.socket, 'member.invite', { email: 'newcomer@elsewhere.example', role: 'member' });
    expect(invited.mailed).toBe(true);
    const token = new URL(invited.inviteLink).searchParams.get('token')!;
    expect(token.length).toBeGreaterThan(20);
    // Before it is sent: neither the outbox nor the queue holds the link in the clear.
    expect(JSON.stringify(await snapshot(node))).not.toContain(token);

    const [mail] = await smtp.waitFor('newcomer@elsewhere.example');
    expect(mail!.subject).toBe(`Olivia Owner invited you to Org ${org.slug} on Signet`);
    expect(mail!.text).toContain(`Accept the invitation: ${invited.inviteLink}`);
    expect(mail!.html).toContain(`href="${invited.inviteLink}"`);
    expect(mail!.text).toContain('as a member');
    await queues.settled();
    const others = smtp.mails.slice(all).filter((m) => !m.to.includes('newcomer@elsewhere.example'));
    expect(others.filter((m) => m.raw.includes(token))).toEqual([]);
    expect(smtp.mails.slice(all).filter((m) => m.raw.includes(token)).map((m) => m.to)).toEqual([['newcomer@elsewhere.example']]);
    // Sent: still nowhere in Redis in the clear, nor in the audit log.
    expect(JSON.stringify(await snapshot(node))).not.toContain(token);
    expect(JSON.stringify(await auditLog(node, org.orgId))).not.toContain(token);
  });

  it('a mail server that refuses for a while gets the mail on a later try', async () => {
    smtp.refuseNext(2);
    const refusedBefore = smtp.refused;
    const invited = await must(who.owner.socket, 'member.invite', { email: 'patient@elsewhere.example', role: 'viewer' });
    const [mail] = await smtp.waitFor('patient@elsewhere.example', 1, 20_000);
    expect(mail!.text).toContain(invited.inviteLink);
    const [job] = (await queues.jobs('mail')).filter((j) => j.data.to === 'patient@elsewhere.example');
    expect(job).toBeDefined();
    await queues.settled();
    expect(smtp.refused - refusedBefore).toBe(2);
    expect(smtp.to('patient@elsewhere.example')).toHaveLength(1);
  });

  it('mail owed by a commit whose node died before queueing it is sent by the reconciler', async () => {
    // Fault injection: the invitation commits with its mail owed, but nothing is queued.
    const invited = await withoutQueueing(node, () => must(who.owner.socket, 'member.invite', { email: 'late@elsewhere.example', role: 'viewer' }));
    expect(await node.signet.redis.zcard(node.signet.keys.outboxPending)).toBe(1);
    expect((await queues.jobs('mail')).filter((j) => j.data.to === 'late@elsewhere.example')).toEqual([]);
    const [mail] = await smtp.waitFor('late@elsewhere.example', 1, 20_000);
    expect(mail!.text).toContain(invited.inviteLink);
    await queues.settled();
    expect(await node.signet.redis.zcard(node.signet.keys.outboxPending)).toBe(0);
  });

  it('the SMTP login is used, and its credentials reach no log line, event or stored value', async () => {
    expect(smtp.logins.length).toBeGreaterThan(0);
    expect(new Set(smtp.logins)).toEqual(new Set([SMTP_USER]));
    expect(logs().length).toBeGreaterThan(0);
    for (const text of [logs(), JSON.stringify(await snapshot(node)), JSON.stringify(who.owner.socket.received)]) {
      expect(text).not.toContain(SMTP_PASSWORD);
      expect(text).not.toContain(Buffer.from(SMTP_PASSWORD).toString('base64'));
    }
  });
});

describe('a mail server that refuses the login', () => {
  it('fails the delivery with the server’s answer and never the password, in the log or the job', async () => {
    const wrong = 'Wr0ng-password-kept-out-of-logs';
    let lines = '';
    const destination = new Writable({ write(chunk, _encoding, done) { lines += chunk.toString(); done(); } });
    const config = testConfig({
      SIGNET_SMTP_URL: `smtp://${SMTP_USER}:${wrong}@127.0.0.1:${smtp.port}`,
      SIGNET_MAIL_FROM: FROM,
      SIGNET_MAIL_ATTEMPTS: '1',
    });
    const other = await startSignetNode({ config, redis: redisUrl(), serveUi: false, logger: createLogger('debug', { destination, pretty: false }) });
    const otherQueues = deliveryQueues(other);
    try {
      const otherOrg = await seedOrg(other);
      const owner = (await people(other, otherOrg, {}, sockets)).owner;
      await must(owner.socket, 'member.invite', { email: 'never@elsewhere.example', role: 'viewer' });
      await otherQueues.settled();
      const [job] = await otherQueues.jobs('mail');
      expect(job).toBeDefined();
      expect(lines).toMatch(/"msg":"delivery failed"/);
      expect(lines).toContain('535');
      expect(lines).not.toContain(wrong);
      expect(JSON.stringify(await snapshot(other))).not.toContain(wrong);
      expect(smtp.to('never@elsewhere.example')).toEqual([]);
    } finally {
      await otherQueues.close();
      await other.close();
    }
  });
});
