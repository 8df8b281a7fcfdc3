// chatChannel.list, chatChannel.create, chatChannel.delete: a project's Slack, Microsoft Teams and
// Mattermost channels, told when a request needs approval and when one ends (SPEC §5). An incoming
// webhook's URL is its secret (whoever has it may post to the channel): it is checked like every URL
// the server will call, kept sealed under the master key, and only ever shown masked.
import { toChatChannel, type ChatChannelRecord } from '../store/records.js';
import { randomId } from '../auth/secrets.js';
import { sealPrivateKey } from '../store/keyVault.js';
import { chatUrlContext, urlHint } from '../outreach/chat.js';
import { assertOutboundUrl, commitEntityDelete, defineCommand } from './define.js';
import { changeEvent, CONFIG_READERS } from '../store/events.js';
import { notFound } from '../errors.js';
import { projectInOrg } from './projects.js';

export const listChatChannels = defineCommand({
  name: 'chatChannel.list',
  async handler(context, input) {
    await projectInOrg(context, input.projectId);
    const channels = await context.repos.chatChannels(input.projectId);
    return channels.map(toChatChannel).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  },
});

export const createChatChannel = defineCommand({
  name: 'chatChannel.create',
  async handler(context, input) {
    const { actor, repos, commit, signet } = context;
    const { keys } = repos;
    const project = (await projectInOrg(context, input.projectId)).value;
    await assertOutboundUrl(signet, 'url', input.url);
    const id = randomId();
    const record: ChatChannelRecord = {
      id,
      orgId: actor.orgId,
      projectId: project.id,
      service: input.service,
      name: input.name,
      urlHint: urlHint(input.url),
      createdAt: new Date().toISOString(),
      version: 1,
      sealedUrl: sealPrivateKey(signet.config.masterKey, Buffer.from(input.url, 'utf8'), chatUrlContext(id)),
    };
    const channel = toChatChannel(record);
    await commit({
      target: { type: 'chatChannel', id, name: input.name },
      changes: {
        service: { before: null, after: input.service },
        name: { before: null, after: input.name },
        url: { before: null, after: record.urlHint },
        project: { before: null, after: project.slug },
      },
      ops: [
        ['set', keys.chatChannel(id), JSON.stringify(record)],
        ['sadd', keys.chatChannels(project.id), id],
      ],
      events: [changeEvent(actor.orgId, 'chatChannel', 'created', id, channel, CONFIG_READERS)],
    });
    return channel;
  },
});

export const deleteChatChannel = defineCommand({
  name: 'chatChannel.delete',
  async handler(context, input) {
    const { actor, repos } = context;
    const stored = await repos.chatChannel(input.chatChannelId);
    if (!stored || stored.value.orgId !== actor.orgId) throw notFound(`Chat channel ${input.chatChannelId}`);
    return commitEntityDelete(context, {
      entity: 'chatChannel',
      key: repos.keys.chatChannel(stored.value.id),
      stored,
      name: stored.value.name,
      identity: { name: stored.value.name, service: stored.value.service, url: stored.value.urlHint },
      audience: CONFIG_READERS,
      ops: [['srem', repos.keys.chatChannels(stored.value.projectId), stored.value.id]],
    });
  },
});
