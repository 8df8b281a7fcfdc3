// webhook.list, webhook.create, webhook.update, webhook.delete: per project, called on the status
// changes each subscribes to (by default the final statuses). The HMAC secret is shown once at
// creation and kept sealed (it must be recoverable to sign deliveries).
import { toWebhook, type WebhookRecord } from '../store/records.js';
import { randomId, randomToken } from '../auth/secrets.js';
import { sealPrivateKey } from '../store/keyVault.js';
import { assertOutboundUrl, assertVersion, commitEntityDelete, commitEntityUpdate, defineCommand, type CommandContext } from './define.js';
import { changeEvent, CONFIG_READERS } from '../store/events.js';
import { notFound } from '../errors.js';
import { projectInOrg } from './projects.js';


export const listWebhooks = defineCommand({
  name: 'webhook.list',
  async handler(context, input) {
    await projectInOrg(context, input.projectId);
    return (await context.repos.webhooks(input.projectId)).map(toWebhook);
  },
});

export const createWebhook = defineCommand({
  name: 'webhook.create',
  async handler(context, input) {
    const { actor, repos, commit, signet } = context;
    const { keys } = repos;
    const project = (await projectInOrg(context, input.projectId)).value;
    await assertOutboundUrl(signet, 'url', input.url);
    const id = randomId();
    const secret = `whsec_${randomToken(24)}`;
    const record: WebhookRecord = {
      id,
      orgId: actor.orgId,
      projectId: project.id,
      url: input.url,
      events: input.events,
      createdAt: new Date().toISOString(),
      version: 1,
      sealedSecret: sealPrivateKey(signet.config.masterKey, Buffer.from(secret), `webhook:${id}`),
    };
    await commit({
      target: { type: 'webhook', id, name: input.url },
      changes: { url: { before: null, after: input.url }, project: { before: null, after: project.slug }, events: { before: null, after: input.events } },
      ops: [
        ['set', keys.webhook(id), JSON.stringify(record)],
        ['sadd', keys.webhooks(project.id), id],
      ],
      events: [changeEvent(actor.orgId, 'webhook', 'created', id, toWebhook(record), CONFIG_READERS)],
    });
    return { webhook: toWebhook(record), secret };
  },
});

async function webhookInOrg({ actor, repos }: CommandContext, webhookId: string) {
  const stored = await repos.webhook(webhookId);
  if (!stored || stored.value.orgId !== actor.orgId) throw notFound(`Webhook ${webhookId}`);
  return stored;
}

export const updateWebhook = defineCommand({
  name: 'webhook.update',
  async handler(context, input) {
    const stored = await webhookInOrg(context, input.webhookId);
    const current = toWebhook(stored.value);
    assertVersion(`Webhook ${current.url}`, input.version, current, current);
    const updated: WebhookRecord = { ...stored.value, events: input.events, version: current.version + 1 };
    const changed = await commitEntityUpdate(context, {
      entity: 'webhook',
      key: context.repos.keys.webhook(current.id),
      stored,
      updated,
      name: current.url,
      audience: CONFIG_READERS,
      present: toWebhook,
    });
    return changed ? toWebhook(updated) : current;
  },
});

export const deleteWebhook = defineCommand({
  name: 'webhook.delete',
  async handler(context, input) {
    const { repos } = context;
    const stored = await webhookInOrg(context, input.webhookId);
    return commitEntityDelete(context, {
      entity: 'webhook',
      key: repos.keys.webhook(stored.value.id),
      stored,
      name: stored.value.url,
      identity: { url: stored.value.url },
      audience: CONFIG_READERS,
      ops: [['srem', repos.keys.webhooks(stored.value.projectId), stored.value.id]],
    });
  },
});
