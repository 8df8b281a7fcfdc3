// chatChannel.list, chatChannel.create, chatChannel.delete: a project's Slack, Microsoft Teams and
// Mattermost channels, told when a request needs approval and when one ends (SPEC §5). An incoming
// webhook's URL is its secret (whoever has it may post to the channel): it is checked like every URL
// the server will call, kept sealed under the master key, and only ever shown masked.
import { toChatChannel, type ChatChannelRecord } from '../store/records.js';
import { randomId } from '../auth/secrets.js';
import { sealPrivateKey } from '../store/keyVault.js';
import { chatUrlContext, urlHint } from '../outreach/chat.js';
import { assertOutboundUrl, commitRemoval, defineCommand } from './define.js';
import { notFound } from '../errors.js';
import { projectInOrg } from './projects.js';

export const listChatChannels = defineCommand({
  name: 'chatChannel.list',
  async handler(context, input) {
    await projectInOrg(context, input.projectId);
    const channels = await context.store.chatChannels.ofProject(input.projectId);
    return channels.map(toChatChannel).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  },
});

export const createChatChannel = defineCommand({
  name: 'chatChannel.create',
  async handler(context, input) {
    const { actor, store, commit, signet } = context;
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
      ...store.chatChannels.create(record),
    });
    return channel;
  },
});

export const deleteChatChannel = defineCommand({
  name: 'chatChannel.delete',
  async handler(context, input) {
    const { actor, store } = context;
    const stored = await store.chatChannels.get(actor.orgId, input.chatChannelId);
    if (!stored) throw notFound(`Chat channel ${input.chatChannelId}`);
    return commitRemoval(context, {
      entity: 'chatChannel',
      id: stored.value.id,
      name: stored.value.name,
      identity: { name: stored.value.name, service: stored.value.service, url: stored.value.urlHint },
      plan: store.chatChannels.remove(stored),
    });
  },
});
