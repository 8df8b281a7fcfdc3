// webhook.list, webhook.create, webhook.update, webhook.delete: per project, called on the status
// changes each subscribes to (by default the final statuses). The HMAC secret is shown once at
// creation and kept sealed (it must be recoverable to sign deliveries).
import { toWebhook, type WebhookRecord } from '../store/records.js';
import { randomId, randomToken } from '../auth/secrets.js';
import { sealPrivateKey } from '../store/keyVault.js';
import { assertOutboundUrl, assertVersion, commitRemoval, commitUpdate, defineCommand, type CommandContext } from './define.js';
import { notFound } from '../errors.js';
import { projectInOrg } from './projects.js';


export const listWebhooks = defineCommand({
  name: 'webhook.list',
  async handler(context, input) {
    await projectInOrg(context, input.projectId);
    return (await context.store.webhooks.ofProject(input.projectId)).map(toWebhook);
  },
});

export const createWebhook = defineCommand({
  name: 'webhook.create',
  async handler(context, input) {
    const { actor, store, commit, signet } = context;
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
      ...store.webhooks.create(record),
    });
    return { webhook: toWebhook(record), secret };
  },
});

async function webhookInOrg({ actor, store }: CommandContext, webhookId: string) {
  const stored = await store.webhooks.get(actor.orgId, webhookId);
  if (!stored) throw notFound(`Webhook ${webhookId}`);
  return stored;
}

export const updateWebhook = defineCommand({
  name: 'webhook.update',
  async handler(context, input) {
    const stored = await webhookInOrg(context, input.webhookId);
    const current = toWebhook(stored.value);
    assertVersion(`Webhook ${current.url}`, input.version, current, current);
    const updated: WebhookRecord = { ...stored.value, events: input.events, version: current.version + 1 };
    const changed = await commitUpdate(context, {
      entity: 'webhook',
      stored,
      updated,
      name: current.url,
      plan: context.store.webhooks.update(stored, updated),
      present: toWebhook,
    });
    return changed ? toWebhook(updated) : current;
  },
});

export const deleteWebhook = defineCommand({
  name: 'webhook.delete',
  async handler(context, input) {
    const stored = await webhookInOrg(context, input.webhookId);
    return commitRemoval(context, {
      entity: 'webhook',
      id: stored.value.id,
      name: stored.value.url,
      identity: { url: stored.value.url },
      plan: context.store.webhooks.remove(stored),
    });
  },
});
