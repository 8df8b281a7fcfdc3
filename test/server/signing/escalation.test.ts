// Escalation (SPEC §4 "a policy may name backup approvers notified after a wait"): halfway through
// the policy's wait the approvers who are online are nudged live in the console; at the end the
// backup approvers are told on every channel and may decide from then on. The steps are delayed
// BullMQ jobs named after the request, so they survive a node's restart and run once across nodes.
// The policy's minutes pass as seconds here (SIGNET_ESCALATION_MINUTE_MS=1000); every wait is on an
// event (a notification, a change of the request), never a sleep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../server/config.js';
import { addMemberDirectly } from '../../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../../server/audit/entries.js';
import type { SigningPolicy, SigningRequest } from '../../../src/lib/shared/entities.js';
import type { ChangeEvent } from '../../../src/lib/shared/events.js';
import { auditLog, command, connect, OPERATOR, seedOrg, signIn, startNode, testConfig, type ClientSocket } from '../../helpers/signet.js';
import {
  createApiKey,
  createSigningProject,
  must,
  people,
  randomArtifact,
  removeDir,
  submitOk,
  tempDir,
  waitForNotifications,
  waitForStatus,
  type SigningProject,
} from '../../helpers/signing.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp.js';
import { startHttpReceiver, type HttpReceiver } from '../../helpers/receivers.js';
import { deliveryQueues, type DeliveryQueues } from '../../helpers/outreach.js';
import { useSignet } from '../../helpers/signetFixture.js';

const SECONDS = { SIGNET_ESCALATION_MINUTE_MS: '1000' };
const PASSWORD = 'correct horse battery staple';

/** An approver who never comes online. */
let erin: { userId: string };
let fixture: SigningProject;
let memberToken: string;
let smtp: TestSmtpServer;
let chat: HttpReceiver;
let deliveries: DeliveryQueues;
let artifactDir: string;
const fx = useSignet({
  people: { alice: 'Alice Approver', dave: 'Dave Backup' },
  config: async () => {
    [smtp, chat] = await Promise.all([startSmtpServer(), startHttpReceiver()]);
    fx.onClose(() => smtp.close());
    fx.onClose(() => chat.close());
    artifactDir = fx.tempDir('signet-escalation-');
    return testConfig({ ...SECONDS, SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, SIGNET_MAIL_FROM: 'signet@signet.test' });
  },
});
const { who } = fx;

beforeAll(async () => {
  erin = await addMemberDirectly(fx.node.signet, fx.org.orgId, { email: `erin@${fx.org.slug}.example.com`, name: 'Erin Elsewhere', role: 'member', password: PASSWORD }, OPERATOR, CLI_SOURCE);
  fixture = await createSigningProject(who.owner.socket, { slug: 'rocket' });
  memberToken = await createApiKey(who.member.socket);
  deliveries = deliveryQueues(fx.node);
  fx.onClose(() => deliveries.close());
  await must(who.owner.socket, 'chatChannel.create', { projectId: fixture.project.id, service: 'mattermost', name: '#launch', url: `${chat.url}/mattermost` });
});

function escalatingPolicy(owner: ClientSocket, projectId: string, certificateId: string, slug: string, people: { approvers: string[]; backups: string[]; submitters: string[] }, minutes: number) {
  return must<SigningPolicy>(owner, 'policy.create', {
    projectId,
    slug,
    name: `Policy ${slug}`,
    certificateId,
    submitters: people.submitters,
    approvers: people.approvers,
    requiredApprovals: 1,
    backupApprovers: people.backups,
    escalateAfterMinutes: minutes,
  });
}

/** Resolves with the request once a change (or, asked right after subscribing, its current state) satisfies `match`. */
function requestWhere(socket: ClientSocket, requestId: string, match: (request: SigningRequest) => boolean, timeoutMs = 20_000): Promise<SigningRequest> {
  return new Promise((resolve, reject) => {
    const finish = (request: SigningRequest) => {
      clearTimeout(timer);
      socket.off('change', onChange);
      resolve(request);
    };
    const timer = setTimeout(() => {
      socket.off('change', onChange);
      reject(new Error(`request ${requestId} did not get there within ${timeoutMs} ms`));
    }, timeoutMs);
    const onChange = (event: ChangeEvent) => {
      if (event.entity === 'signingRequest' && event.id === requestId && event.data && match(event.data as SigningRequest)) finish(event.data as SigningRequest);
    };
    socket.on('change', onChange);
    void command<{ request: SigningRequest }>(socket, 'request.get', { requestId }).then((ack) => {
      if (ack.ok && match(ack.result.request)) finish(ack.result.request);
    });
  });
}

describe('escalation', () => {
  it('halfway, the approvers who are online are nudged in the console; then the backup approvers are told on every channel, and one of them approves', async () => {
    const policy = await escalatingPolicy(who.owner.socket, fixture.project.id, fixture.certificate.id, 'escalating', {
      approvers: [who.alice.userId, erin.userId],
      backups: [who.dave.userId],
      submitters: [who.member.userId],
    }, 6);
    // Six "minutes" of a second each: the nudge at 3 s, the escalation at 6 s (a nudge overtaken by
    // the escalation on a machine 3 s behind would not be sent at all).
    const request = await submitOk(fx.node, fx.org.slug, memberToken, { projectSlug: fixture.project.slug, signingPolicySlug: policy.slug, artifact: randomArtifact(), fileName: 'rocket.bin' });
    expect(request.escalation).toMatchObject({ afterMinutes: 6, nudgedAt: null, escalatedAt: null });

    const [nudge] = await waitForNotifications(who.alice.socket, (n) => n.kind === 'request.nudge' && n.link === `/requests/${request.id}`, 1, 20_000);
    expect(nudge.title).toContain('Still waiting for your approval');
    const [escalated] = await waitForNotifications(who.dave.socket, (n) => n.kind === 'request.escalated' && n.link === `/requests/${request.id}`, 1, 20_000);
    expect(escalated.body).toContain('backup approver');

    const seen = (await must(who.dave.socket, 'request.get', { requestId: request.id })).request as SigningRequest;
    expect(seen.escalation).toMatchObject({ nudged: [{ userId: who.alice.userId }], backups: [{ userId: who.dave.userId, name: 'Dave Backup' }] });
    expect(seen.escalation!.escalatedAt).not.toBeNull();
    // Erin, offline, was asked for her approval when the request came, and not nudged.
    const erinsInbox = await fx.node.signet.store.notifications.list(fx.org.orgId, erin.userId, 50, false);
    expect(erinsInbox.items.map((n: { kind: string }) => n.kind)).toContain('request.approvalRequired');
    expect(erinsInbox.items.map((n: { kind: string }) => n.kind)).not.toContain('request.nudge');
    // The dashboard's "awaiting my approval" lists it for the backup approver now.
    expect((await must(who.dave.socket, 'request.list', { awaitingMyApproval: true })).requests.map((r: SigningRequest) => r.id)).toContain(request.id);

    const approved = await must<SigningRequest>(who.dave.socket, 'request.approve', { requestId: request.id, comment: 'covering for Alice' });
    expect(approved.workflowStatus).toBe('QueuedForProcessing');
    await waitForStatus(who.owner.socket, request.id, 'Completed', { ask: true });

    const trail = (await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.target.id === request.id);
    expect(trail.filter((e) => e.action === 'request.nudge').map((e) => [e.actor.type, e.changes.nudged!.after])).toEqual([['system', ['Alice Approver']]]);
    expect(trail.filter((e) => e.action === 'request.escalate').map((e) => e.changes.escalatedTo!.after)).toEqual([['Dave Backup']]);
    expect(trail.find((e) => e.action === 'request.approve')!.changes.decidedAs).toEqual({ before: null, after: 'backup approver (escalated)' });

    await deliveries.settled();
    // The nudge stays in the console; the escalation is mailed to the backup approver and posted to the project's channel.
    expect(smtp.to(who.alice.email).filter((m) => m.subject.includes('Still waiting'))).toHaveLength(0);
    expect(smtp.to(who.dave.email).filter((m) => m.subject.includes('as a backup'))).toHaveLength(1);
    const posts = chat.to('/mattermost').map((p) => JSON.parse(p.body));
    expect(posts.filter((p) => JSON.stringify(p).includes('Escalated'))).toHaveLength(1);
  });

  it('a backup approver cannot decide before the request is escalated', async () => {
    const policy = await escalatingPolicy(who.owner.socket, fixture.project.id, fixture.certificate.id, 'slow-escalating', {
      approvers: [who.alice.userId],
      backups: [who.dave.userId],
      submitters: [who.member.userId],
    }, 600);
    const request = await submitOk(fx.node, fx.org.slug, memberToken, { projectSlug: fixture.project.slug, signingPolicySlug: policy.slug, artifact: randomArtifact() });
    const ack = await command(who.dave.socket, 'request.approve', { requestId: request.id });
    expect(ack.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/backup approver.*once the request is escalated/) });
    await must(who.member.socket, 'request.cancel', { requestId: request.id });
  });

  it('a policy names its backup approvers and its wait together, and backup approvers are people who may approve', async () => {
    const base = { projectId: fixture.project.id, name: 'Bad', certificateId: fixture.certificate.id, approvers: [who.alice.userId], requiredApprovals: 1 };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ backupApprovers: [who.dave.userId] }, 'escalateAfterMinutes'],
      [{ escalateAfterMinutes: 30 }, 'backupApprovers'],
      [{ backupApprovers: [who.alice.userId], escalateAfterMinutes: 30 }, 'backupApprovers'],
      [{ backupApprovers: [who.viewer.userId], escalateAfterMinutes: 30 }, 'backupApprovers'],
      [{ backupApprovers: [who.dave.userId], escalateAfterMinutes: 0 }, 'escalateAfterMinutes'],
    ];
    for (const [fields, path] of cases) {
      const ack = await command(who.owner.socket, 'policy.create', { ...base, slug: `bad-${path.toLowerCase()}`, ...fields });
      expect(ack.error?.code, JSON.stringify(fields)).toBe('INVALID_INPUT');
      expect(ack.error?.issues?.[0]?.path).toBe(path);
    }
  });
});

describe('escalation across nodes', () => {
  let shared: Config;
  let sharedDir: string;

  beforeAll(() => {
    sharedDir = tempDir('signet-escalation-nodes-');
    shared = testConfig({ ...SECONDS, SIGNET_ARTIFACT_DIR: sharedDir });
  });
  afterAll(() => removeDir(sharedDir));

  it('the steps survive the restart of the node that scheduled them and run once with two nodes up', async () => {
    const first = await startNode(shared);
    const other = await seedOrg(first);
    const email = (name: string) => `${name}@${other.slug}.example.com`;
    const alice = await addMemberDirectly(first.signet, other.orgId, { email: email('alice'), name: 'Alice Approver', role: 'member', password: PASSWORD }, OPERATOR, CLI_SOURCE);
    const dave = await addMemberDirectly(first.signet, other.orgId, { email: email('dave'), name: 'Dave Backup', role: 'member', password: PASSWORD }, OPERATOR, CLI_SOURCE);
    const owner = await connect(first, { cookie: await signIn(first, other.users.owner) });
    const project = await createSigningProject(owner, { slug: 'relay' });
    const policy = await escalatingPolicy(owner, project.project.id, project.certificate.id, 'relay', { approvers: [alice.userId], backups: [dave.userId], submitters: [other.users.owner.userId] }, 3);
    const token = await createApiKey(owner);
    const request = await submitOk(first, other.slug, token, { projectSlug: 'relay', signingPolicySlug: policy.slug, artifact: randomArtifact() });
    owner.close();
    // Every node goes down; the delayed jobs wait in Redis.
    await first.close();

    const [second, third] = await Promise.all([fx.startNode(shared), fx.startNode(shared)]);
    const daveSocket = await fx.open({ cookie: await signIn(second, { email: email('dave'), password: PASSWORD }) }, second);
    const escalated = await requestWhere(daveSocket, request.id, (r) => r.escalation?.escalatedAt != null);
    expect(escalated.escalation!.backups).toEqual([{ userId: dave.userId, name: 'Dave Backup' }]);
    await must(daveSocket, 'request.approve', { requestId: request.id, comment: 'after the restart' });
    await waitForStatus(daveSocket, request.id, 'Completed', { ask: true });

    const trail = (await auditLog(second, other.orgId)).filter((entry) => entry.target.id === request.id);
    expect(trail.filter((e) => e.action === 'request.escalate')).toHaveLength(1);
    // The nudge, when its time came while the request waited (it may have been overtaken by the escalation while no node ran).
    expect(trail.filter((e) => e.action === 'request.nudge').length).toBeLessThanOrEqual(1);
    const inbox = await second.signet.store.notifications.list(other.orgId, dave.userId, 50, false);
    expect(inbox.items.filter((n: { kind: string }) => n.kind === 'request.escalated')).toHaveLength(1);
  });
});
