// webhook.list, webhook.create, webhook.delete: per project, called on final statuses. The HMAC
// secret is shown once at creation and kept sealed (it must be recoverable to sign deliveries).
import { commandInputs } from '../../src/lib/shared/commands.js';
import { toWebhook, type WebhookRecord } from '../store/records.js';
import { randomId, randomToken } from '../auth/secrets.js';
import { sealPrivateKey } from '../signing/keyVault.js';
import { changeEvent, commitEntityDelete, CONFIG_READERS, defineCommand } from './define.js';
import { invalid, notFound } from './errors.js';
import { projectInOrg } from './projects.js';


export const listWebhooks = defineCommand({
  name: 'webhook.list',
  input: commandInputs['webhook.list'],
  permission: 'config:read',
  async handler(context, input) {
    await projectInOrg(context, input.projectId);
    return (await context.repos.webhooks(input.projectId)).map(toWebhook);
  },
});

export const createWebhook = defineCommand({
  name: 'webhook.create',
  input: commandInputs['webhook.create'],
  permission: 'config:write',
  async handler(context, input) {
    const { actor, repos, commit, signet } = context;
    const { keys } = repos;
    const project = (await projectInOrg(context, input.projectId)).value;
    await signet.outbound.checkUrl(input.url).catch((error: Error) => {
      throw invalid('url', error.message);
    });
    const id = randomId();
    const secret = `whsec_${randomToken(24)}`;
    const record: WebhookRecord = {
      id,
      orgId: actor.orgId,
      projectId: project.id,
      url: input.url,
      createdAt: new Date().toISOString(),
      version: 1,
      sealedSecret: sealPrivateKey(signet.config.masterKey, Buffer.from(secret), `webhook:${id}`),
    };
    await commit({
      target: { type: 'webhook', id, name: input.url },
      changes: { url: { before: null, after: input.url }, project: { before: null, after: project.slug } },
      ops: [
        ['set', keys.webhook(id), JSON.stringify(record)],
        ['sadd', keys.webhooks(project.id), id],
      ],
      events: [changeEvent(actor.orgId, 'webhook', 'created', id, toWebhook(record), CONFIG_READERS)],
    });
    return { webhook: toWebhook(record), secret };
  },
});

export const deleteWebhook = defineCommand({
  name: 'webhook.delete',
  input: commandInputs['webhook.delete'],
  permission: 'config:write',
  async handler(context, input) {
    const { actor, repos } = context;
    const stored = await repos.webhook(input.webhookId);
    if (!stored || stored.value.orgId !== actor.orgId) throw notFound(`Webhook ${input.webhookId}`);
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
