// Project webhooks (SPEC §4): on each status change a webhook subscribed to it gets
// POST {organization, signingRequestId, status, event, workflowStatus}, signed with HMAC-SHA256 over
// `${timestamp}.${body}` under the webhook's secret. Webhooks without a choice hear the final statuses.
import { createHmac, randomUUID } from 'node:crypto';
import { webhookEventOf, type WorkflowStatus } from '../../src/lib/shared/signing.js';
import type { Signet } from '../signet.js';
import { toWebhook, type RequestRecord } from '../store/records.js';
import { openPrivateKey } from '../store/keyVault.js';
import { OutboundError } from '../net/outbound.js';
import type { WebhookDelivery } from './deliveries.js';

/** The calls the project's webhooks are owed for `request` entering its current status. */
export async function webhookDeliveries(signet: Signet, request: RequestRecord): Promise<WebhookDelivery[]> {
  const event = webhookEventOf(request.workflowStatus as WorkflowStatus);
  if (!event) return [];
  const subscribed = (await signet.store.webhooks.ofProject(request.projectId)).filter((webhook) => toWebhook(webhook).events.includes(event));
  if (subscribed.length === 0) return [];
  const org = await signet.store.organizations.get(request.orgId);
  const body = JSON.stringify({
    organization: org?.value.slug ?? request.orgId,
    signingRequestId: request.id,
    status: request.status,
    event,
    workflowStatus: request.workflowStatus,
  });
  return subscribed.map((webhook) => ({
    channel: 'webhook',
    // A request enters each status at most once: one call per webhook, request and status.
    id: `webhook-${webhook.id}-${request.id}-${request.workflowStatus}`,
    orgId: request.orgId,
    webhookId: webhook.id,
    requestId: request.id,
    body,
  }));
}

/**
 * POSTs one call with its HMAC-SHA256 signature; throws (and so is retried) on failure. Redirects
 * are not followed: a receiver must answer 2xx at the URL it gave.
 */
export async function deliverWebhook(signet: Signet, delivery: WebhookDelivery): Promise<void> {
  const stored = await signet.store.webhooks.get(delivery.orgId, delivery.webhookId);
  if (!stored) return; // deleted meanwhile
  const secret = openPrivateKey(signet.config.masterKey, stored.value.sealedSecret, `webhook:${stored.value.id}`).toString();
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`${timestamp}.${delivery.body}`).digest('hex');
  await postJson(signet, stored.value.url, delivery.body, {
    headers: {
      'user-agent': 'Signet-Webhook/1',
      'x-signet-delivery': randomUUID(),
      'x-signet-timestamp': String(timestamp),
      'x-signet-signature': `sha256=${signature}`,
    },
    what: 'webhook',
    log: { orgId: delivery.orgId, webhookId: delivery.webhookId },
  });
}

/**
 * POSTs JSON through the outbound client; throws on a refusal, a failure or a non-2xx answer (the
 * server log says which, by host and port only: the URL's path may be a secret).
 */
export async function postJson(
  signet: Signet,
  url: string,
  body: string,
  options: { headers: Record<string, string>; what: string; log: Record<string, string> },
): Promise<void> {
  let status: number;
  try {
    ({ status } = await signet.outbound.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body,
      timeoutMs: 10_000,
    }));
  } catch (error) {
    if (error instanceof OutboundError) signet.logger.warn({ ...options.log, detail: error.detail }, `${options.what} delivery failed`);
    throw error;
  }
  if (status < 200 || status >= 300) throw new Error(`${options.what} answered ${status}`);
}
