// What a change owes the world outside the console: mail, chat messages and webhook calls. The commit
// that decides one also writes it to the outbox (one atomic write with the change and its audit
// entry: store/outbox.ts); once committed it is queued (BullMQ, retried with backoff) and leaves the outbox. A node
// that dies in between leaves it owed, and any node's reconciler queues it. The delivery id is the
// job id, so queueing one twice is a no-op.
import type { SealedKey } from '../store/keyVault.js';

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

/** Queues deliveries (after their commit); a node without queues (a CLI run) leaves them to the nodes' reconcilers. */
export interface DeliverySender {
  send(deliveries: readonly Delivery[]): Promise<void>;
}
