// Chat (SPEC §5): a project's Slack, Microsoft Teams and Mattermost channels are told, through their
// incoming webhooks and in each service's documented format, when a request needs approval and when
// one ends, with a link into the console (decisions stay there). An incoming webhook's URL is a
// secret: checked like every URL the server calls, stored sealed, only ever shown masked. The
// receiver is a real HTTP server on loopback.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChatChannel, Project, SigningRequest } from '../../../src/lib/shared/entities.js';
import { auditLog, command, ORIGIN, snapshot, testConfig } from '../../helpers/signet.js';
import { createApiKey, createPolicy, createProject, generateCertificate, must, randomArtifact, submitOk, waitForStatus } from '../../helpers/signing.js';
import { deliveryQueues, type DeliveryQueues } from '../../helpers/outreach.js';
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest } from '../../helpers/receivers.js';
import { useSignet } from '../../helpers/signetFixture.js';

/** A chat message as the receiver got it, its JSON parsed. */
type Post = Omit<ReceivedRequest, 'body'> & { body: any };

let receiver: HttpReceiver;
let base: string;
let queues: DeliveryQueues;
let memberToken: string;
let certificateId: string;
const fx = useSignet({
  config: async () => {
    receiver = await startHttpReceiver();
    fx.onClose(() => receiver.close());
    base = receiver.url;
    const artifactDir: string = fx.tempDir('signet-chat-');
    return testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_WEBHOOK_ATTEMPTS: '3', SIGNET_RATE_LIMIT_PER_MINUTE: '100000' });
  },
});
const { who } = fx;

/** The secret part of each incoming-webhook URL, as the services make them. */
const SECRETS = { slack: 'T0SIGNET/B0SIGNET/xoxSlackSecretPart1234', teams: 'webhookb2/TeamsSecretPart5678@tenant/IncomingWebhook/abc/def', mattermost: 'hooks/mmSecretPart9012' };

beforeAll(async () => {
  queues = deliveryQueues(fx.node);
  fx.onClose(() => queues.close());
  memberToken = await createApiKey(who.member.socket);
  certificateId = (await generateCertificate(who.owner.socket, 'chat-cert')).id;
});

const parsed = (request: ReceivedRequest): Post => ({ ...request, body: JSON.parse(request.body) });
const postsTo = (path: string): Post[] => receiver.to(path).map(parsed);
const waitForPosts = async (path: string, count: number, timeoutMs?: number): Promise<Post[]> => (await receiver.waitFor(path, count, timeoutMs)).map(parsed);

/** A project with one channel per service (paths under /<slug>/), and a policy needing one approval from the admin. */
async function projectWithChannels(slug: string): Promise<{ project: Project; channels: Record<'slack' | 'teams' | 'mattermost', ChatChannel>; paths: Record<'slack' | 'teams' | 'mattermost', string> }> {
  const project = await createProject(who.owner.socket, slug);
  const paths = { slack: `/${slug}/${SECRETS.slack}`, teams: `/${slug}/${SECRETS.teams}`, mattermost: `/${slug}/${SECRETS.mattermost}` };
  const channels = {} as Record<'slack' | 'teams' | 'mattermost', ChatChannel>;
  for (const service of ['slack', 'teams', 'mattermost'] as const) {
    // A member (config:write) may add them.
    channels[service] = await must(who.member.socket, 'chatChannel.create', { projectId: project.id, service, name: `#${slug}-${service}`, url: `${base}${paths[service]}` });
  }
  await createPolicy(who.owner.socket, { projectId: project.id, slug: 'main', certificateId, submitters: [who.member.userId], approvers: [who.admin.userId], requiredApprovals: 1 });
  return { project, channels, paths };
}

async function submit(project: Project, fileName = 'tool.zip'): Promise<SigningRequest> {
  return submitOk(fx.node, fx.org.slug, memberToken, { projectSlug: project.slug, signingPolicySlug: 'main', artifact: randomArtifact(), fileName });
}

const link = (request: { id: string }) => `${ORIGIN}/requests/${request.id}`;

describe('chat channels', () => {
  it('keep the incoming-webhook URL sealed: shown masked in results, listings, events and the audit log, absent from Redis in the clear', async () => {
    const { project, channels } = await projectWithChannels('masked');
    expect(channels.slack).toMatchObject({ projectId: project.id, service: 'slack', name: '#masked-slack', urlHint: `${base}/…1234`, version: 1 });
    expect(channels.teams.urlHint).toBe(`${base}/…/def`);
    expect(Object.keys(channels.slack).sort()).toEqual(['createdAt', 'id', 'name', 'orgId', 'projectId', 'service', 'urlHint', 'version']);
    const listed = await must<ChatChannel[]>(who.viewer.socket, 'chatChannel.list', { projectId: project.id });
    expect(listed.map((channel) => channel.service)).toEqual(['slack', 'teams', 'mattermost']);
    await command(who.viewer.socket, 'me.get');
    const everywhere = [
      JSON.stringify(listed),
      JSON.stringify(who.viewer.socket.received),
      JSON.stringify(who.owner.socket.received),
      JSON.stringify(await auditLog(fx.node, fx.org.orgId)),
      JSON.stringify(await snapshot(fx.node)),
    ];
    for (const text of everywhere) for (const secret of ['xoxSlackSecretPart1234', 'TeamsSecretPart5678', 'mmSecretPart9012']) expect(text).not.toContain(secret);
    const entry = (await auditLog(fx.node, fx.org.orgId)).find((e) => e.action === 'chatChannel.create' && e.target.id === channels.slack.id);
    expect(entry).toMatchObject({ actor: { id: who.member.userId }, changes: { service: { after: 'slack' }, url: { after: `${base}/…1234` }, project: { after: 'masked' } } });
  });

  it('tell each service that approval is needed, in its own format, with a link into the console and no way to decide in chat', async () => {
    const { project, paths } = await projectWithChannels('approvals');
    const request = await submit(project);
    expect(request.workflowStatus).toBe('WaitingForApproval');
    const title = 'Approval needed: approvals/tool.zip';
    const text = 'Mia Member asks to sign tool.zip with policy main; 1 approval needed.';

    const [slack] = await waitForPosts(paths.slack, 1);
    expect(slack!.headers['content-type']).toMatch(/^application\/json/);
    expect(slack!.headers['user-agent']).toBe('Signet-Chat/1');
    expect(slack!.body.text).toBe(`${title}: ${link(request)}`);
    expect(slack!.body.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: `*<${link(request)}|${title}>*\n${text}` } });
    expect(slack!.body.blocks[1].type).toBe('section');
    expect(slack!.body.blocks[1].fields).toEqual(
      expect.arrayContaining([
        { type: 'mrkdwn', text: '*Project*\napprovals' },
        { type: 'mrkdwn', text: '*Policy*\nmain' },
        { type: 'mrkdwn', text: `*SHA-256*\n${request.artifact.sha256}` },
        { type: 'mrkdwn', text: '*Approvals*\n0 of 1 required' },
      ]),
    );
    expect(slack!.body.blocks.at(-1)).toMatchObject({ type: 'context', elements: [{ type: 'mrkdwn', text: expect.stringContaining(`<${link(request)}|Review in Signet>`) }] });
    expect(slack!.body.blocks.map((block: { type: string }) => block.type)).not.toContain('actions');

    const [teams] = await waitForPosts(paths.teams, 1);
    expect(teams!.body.type).toBe('message');
    expect(teams!.body.attachments).toHaveLength(1);
    const attachment = teams!.body.attachments[0];
    expect(attachment).toMatchObject({ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null });
    expect(attachment.content).toMatchObject({ $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.2' });
    expect(attachment.content.body[0]).toMatchObject({ type: 'TextBlock', text: title, weight: 'Bolder', wrap: true, color: 'Warning' });
    expect(attachment.content.body[1]).toMatchObject({ type: 'TextBlock', text });
    expect(attachment.content.body[2].type).toBe('FactSet');
    expect(attachment.content.body[2].facts).toEqual(expect.arrayContaining([{ title: 'Project', value: 'approvals' }, { title: 'Submitter', value: 'Mia Member' }]));
    // The only action opens the console.
    expect(attachment.content.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Review in Signet', url: link(request) }]);

    const [mattermost] = await waitForPosts(paths.mattermost, 1);
    expect(mattermost!.body.text).toBe(text);
    expect(mattermost!.body.attachments).toHaveLength(1);
    expect(mattermost!.body.attachments[0]).toMatchObject({ fallback: `${title}: ${link(request)}`, color: '#d29922', title, title_link: link(request) });
    expect(mattermost!.body.attachments[0].fields).toEqual(expect.arrayContaining([{ short: true, title: 'Policy', value: 'main' }]));
    expect(mattermost!.body.attachments[0].actions).toBeUndefined();
  });

  it('tell them how a request ended: signed, or denied with the comment', async () => {
    const { project, paths } = await projectWithChannels('endings');
    const signed = await submit(project, 'good.zip');
    await must(who.admin.socket, 'request.approve', { requestId: signed.id });
    await waitForStatus(who.owner.socket, signed.id, 'Completed');
    const denied = await submit(project, 'bad.zip');
    await must(who.admin.socket, 'request.deny', { requestId: denied.id, comment: 'not from the release branch' });
    await queues.settled();

    const titles = (path: string, read: (body: any) => string) => postsTo(path).map((post) => read(post.body));
    const expected = ['Approval needed: endings/good.zip', 'Signed: endings/good.zip', 'Approval needed: endings/bad.zip', 'Denied: endings/bad.zip'];
    expect(new Set(titles(paths.teams, (body) => body.attachments[0].content.body[0].text))).toEqual(new Set(expected));
    expect(new Set(titles(paths.mattermost, (body) => body.attachments[0].title))).toEqual(new Set(expected));
    expect(postsTo(paths.slack)).toHaveLength(4);
    const teamsDenied = postsTo(paths.teams).find((post) => post.body.attachments[0].content.body[0].text === 'Denied: endings/bad.zip')!;
    expect(teamsDenied.body.attachments[0].content.body[0].color).toBe('Attention');
    expect(teamsDenied.body.attachments[0].content.body[1].text).toBe('Denied by Adam Admin: not from the release branch');
    const mmSigned = postsTo(paths.mattermost).find((post) => post.body.attachments[0].title === 'Signed: endings/good.zip')!;
    expect(mmSigned.body.attachments[0]).toMatchObject({ color: '#1a7f37', title_link: link(signed) });
    // The intermediate statuses (queued, processing) are not chat news.
    expect(receiver.requests.where((post) => post.body.includes('Processing:'))).toEqual([]);
  });

  it('show submitted names as text: no Slack markup, no Mattermost mention', async () => {
    const { project, paths } = await projectWithChannels('escaped');
    const request = await submit(project, '<!channel>@all.zip');
    const [slack] = await waitForPosts(paths.slack, 1);
    expect(JSON.stringify(slack!.body)).not.toContain('<!channel>');
    expect(slack!.body.blocks[0].text.text).toContain('&lt;!channel&gt;@all.zip');
    const [mattermost] = await waitForPosts(paths.mattermost, 1);
    expect(mattermost!.body.text).not.toMatch(/@all/);
    expect(mattermost!.body.text).toContain('@\u200ball');
    expect(request.artifact.fileName).toBe('<!channel>@all.zip');
  });

  it('a channel that fails is retried with backoff; a deleted channel gets nothing more', async () => {
    const { project, channels, paths } = await projectWithChannels('flaky-chat');
    receiver.answer(paths.slack, (attempt) => (attempt === 1 ? 500 : 200));
    await must(who.member.socket, 'chatChannel.delete', { chatChannelId: channels.teams.id });
    const request = await submit(project);
    const tries = await waitForPosts(paths.slack, 2, 20_000);
    expect(tries.map((post) => post.answered)).toEqual([500, 200]);
    expect(tries[1]!.body).toEqual(tries[0]!.body);
    await queues.settled();
    expect(postsTo(paths.teams)).toEqual([]);
    expect(postsTo(paths.mattermost)).toHaveLength(1);
    expect(await must(who.viewer.socket, 'chatChannel.list', { projectId: project.id })).toHaveLength(2);
    expect(request.workflowStatus).toBe('WaitingForApproval');
  });

  it('deleting the project deletes its channels', async () => {
    const { project, channels } = await projectWithChannels('doomed');
    await must(who.owner.socket, 'project.delete', { projectId: project.id, confirmSlug: 'doomed' });
    const { redis, keys } = fx.node.signet;
    expect(await redis.exists(keys.chatChannel(channels.slack.id), keys.chatChannels(project.id))).toBe(0);
    const gone = await command(who.member.socket, 'chatChannel.delete', { chatChannelId: channels.slack.id });
    expect(gone.error?.code).toBe('NOT_FOUND');
  });

  it('refuse a URL the server may not call or one with credentials, naming it, and keep nothing', async () => {
    const project = await createProject(who.owner.socket, 'refused-chat');
    for (const [url, reason] of [
      ['http://169.254.169.254/latest/meta-data', /cloud metadata|link-local/],
      ['http://localhost:8065/hooks/x', /localhost/],
      ['https://user:pass@hooks.slack.com/services/x', /credentials/],
      ['ftp://hooks.example.com/x', /./],
    ] as const) {
      const refused = await command(who.owner.socket, 'chatChannel.create', { projectId: project.id, service: 'mattermost', name: '#nope', url });
      expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', issues: [expect.objectContaining({ path: 'url', message: expect.stringMatching(reason) })] });
    }
    const unknown = await command(who.owner.socket, 'chatChannel.create', { projectId: project.id, service: 'irc', name: '#nope', url: `${base}/x` });
    expect(unknown.error?.issues?.[0]?.path).toBe('service');
    const viewer = await command(who.viewer.socket, 'chatChannel.create', { projectId: project.id, service: 'slack', name: '#nope', url: `${base}/x` });
    expect(viewer.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('config:write') });
    expect(await must(who.owner.socket, 'chatChannel.list', { projectId: project.id })).toEqual([]);
  });
});
