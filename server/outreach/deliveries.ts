// What a change owes the world outside the console: mail, chat messages and webhook calls. The commit
// that decides one also writes it to the outbox (one atomic write with the change and its audit
// entry); once committed it is queued (BullMQ, retried with backoff) and leaves the outbox. A node
// that dies in between leaves it owed, and any node's reconciler queues it. The delivery id is the
// job id, so queueing one twice is a no-op.
import type { SealedKey } from '../store/keyVault.js';
import type { RedisKeys } from '../store/keys.js';
import type { WriteOp } from '../store/commit.js';

export interface MailBody {
  text: string;
  html: string;
}

export interface MailDelivery {
  channel: 'mail';
  id: string;
  orgId: string;
  to: string;
  subject: string;
  /** Sealed under the master key when it carries a secret for its recipient (an invitation link). */
  body: MailBody | { sealed: SealedKey };
}

export interface ChatDelivery {
  channel: 'chat';
  id: string;
  orgId: string;
  chatChannelId: string;
  /** The JSON message, already in the channel's service format. */
  body: string;
}

export interface WebhookDelivery {
  channel: 'webhook';
  id: string;
  orgId: string;
  webhookId: string;
  requestId: string;
  body: string;
}

export type Delivery = MailDelivery | ChatDelivery | WebhookDelivery;
export type DeliveryChannel = Delivery['channel'];

/** How long an owed delivery waits in the outbox at most (a reconciler queues it within seconds). */
const OUTBOX_TTL_MS = 7 * 24 * 3600 * 1000;

/** The writes that record deliveries as owed, for the commit that decides them. */
export function owedWrites(keys: RedisKeys, deliveries: readonly Delivery[]): WriteOp[] {
  const now = Date.now();
  return deliveries.flatMap((delivery): WriteOp[] => [
    ['set', keys.outboxItem(delivery.id), JSON.stringify(delivery), OUTBOX_TTL_MS],
    ['zadd', keys.outboxPending, now, delivery.id],
  ]);
}

/** Queues deliveries (after their commit); a node without queues (a CLI run) leaves them to the nodes' reconcilers. */
export interface DeliverySender {
  send(deliveries: readonly Delivery[]): Promise<void>;
}
