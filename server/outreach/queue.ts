// Delivery queues (BullMQ): `webhooks`, `mail` and `chat`, one job per delivery, retried with
// exponential backoff from one second. Any node's worker may run a job; none runs one twice. A
// reconciler on every node queues the deliveries a commit owed but whose node died before queueing
// them (see deliveries.ts).
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Signet } from '../signet.js';
import type { RedisKeys } from '../store/keys.js';
import { bullConnections, type RedisTarget } from '../store/redis.js';
import type { RequestRecord } from '../store/records.js';
import type { Delivery, DeliveryChannel, DeliverySender } from './deliveries.js';
import { createMailer } from './mail.js';
import { deliverChat } from './chat.js';
import { deliverWebhook, webhookDeliveries } from './webhooks.js';

const RECONCILE_EVERY_MS = 5000;
const QUEUE_NAMES: Record<DeliveryChannel, string> = { webhook: 'webhooks', mail: 'mail', chat: 'chat' };
const CHANNELS = Object.keys(QUEUE_NAMES) as DeliveryChannel[];
/** Jobs at once per node: SMTP servers limit connections per client, HTTP receivers rarely do. */
const CONCURRENCY: Record<DeliveryChannel, number> = { webhook: 8, mail: 2, chat: 8 };

/** The delivery queues' producing side: what a commit owes is queued through `sender`. */
export interface OutreachQueues {
  readonly sender: DeliverySender;
  close(): Promise<void>;
}

export interface OutreachQueueParts {
  config: Config;
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  metrics?: Metrics;
}

export function openOutreachQueues(target: RedisTarget, { config, redis, keys, logger, metrics }: OutreachQueueParts): OutreachQueues {
  const connections = bullConnections(target);
  const queues = Object.fromEntries(
    CHANNELS.map((channel) => {
      const queue = new Queue<Delivery>(QUEUE_NAMES[channel], { connection: connections.connection(false), prefix: keys.bullPrefix });
      queue.on('error', (error) => logger.debug({ err: error }, `${QUEUE_NAMES[channel]} queue`));
      metrics?.watchQueue(QUEUE_NAMES[channel], queue);
      return [channel, queue];
    }),
  ) as Record<DeliveryChannel, Queue<Delivery>>;
  const attempts: Record<DeliveryChannel, number> = {
    webhook: config.SIGNET_WEBHOOK_ATTEMPTS,
    chat: config.SIGNET_WEBHOOK_ATTEMPTS,
    mail: config.SIGNET_MAIL_ATTEMPTS,
  };

  const sender: DeliverySender = {
    async send(deliveries) {
      if (deliveries.length === 0) return;
      await Promise.all(
        deliveries.map((delivery) =>
          queues[delivery.channel].add(delivery.channel, delivery, {
            jobId: delivery.id,
            attempts: attempts[delivery.channel],
            backoff: { type: 'exponential', delay: 1000 },
            removeOnComplete: { age: 24 * 3600 },
            removeOnFail: { age: 7 * 24 * 3600 },
          }),
        ),
      );
      // Queued (the job id makes a second queueing a no-op): no longer owed.
      const done = redis.multi();
      for (const delivery of deliveries) done.del(keys.outboxItem(delivery.id)).zrem(keys.outboxPending, delivery.id);
      await done.exec();
    },
  };

  return {
    sender,
    async close() {
      await Promise.allSettled(Object.values(queues).map((queue) => queue.close()));
      connections.disconnectAll();
    },
  };
}

/** This node's delivery workers and the reconciler that queues what a dead node owed. */
export function startOutreachWorkers(signet: Signet, outreach: OutreachQueues, target: RedisTarget, metrics?: Metrics): { close(): Promise<void> } {
  const { config, keys, logger, redis } = signet;
  const { sender } = outreach;
  const connections = bullConnections(target);
  const mailer = createMailer(config);
  const deliver: Record<DeliveryChannel, (delivery: Delivery) => Promise<void>> = {
    webhook: (delivery) => deliverWebhook(signet, delivery as Extract<Delivery, { channel: 'webhook' }>),
    chat: (delivery) => deliverChat(signet, delivery as Extract<Delivery, { channel: 'chat' }>),
    async mail(delivery) {
      if (!mailer) {
        logger.warn({ orgId: delivery.orgId }, 'a mail was owed but SIGNET_SMTP_URL is not set on this node; dropped');
        return;
      }
      await mailer.send(delivery as Extract<Delivery, { channel: 'mail' }>);
    },
  };

  const workers = CHANNELS.map((channel) => {
    const name = QUEUE_NAMES[channel];
    const worker = new Worker<Delivery>(name, (job) => measured(metrics, job, () => deliver[channel](job.data)), {
      connection: connections.connection(true),
      prefix: keys.bullPrefix,
      concurrency: CONCURRENCY[channel],
    });
    metrics?.watchWorker(name, worker);
    worker.on('error', (error) => logger.debug({ err: error }, 'worker'));
    worker.on('failed', (job, error) => logger.warn({ job: name, deliveryId: job?.id, orgId: job?.data.orgId, attempts: job?.attemptsMade, err: error.message }, 'delivery failed'));
    return worker;
  });
  const reconcileTimer = setInterval(() => void reconcile().catch((error) => logger.debug({ err: error }, 'reconciling deliveries deferred')), RECONCILE_EVERY_MS);
  reconcileTimer.unref();

  /** Queues the deliveries owed a while (their node died between commit and queueing). */
  async function reconcile() {
    const owed = await redis.zrangebyscore(keys.outboxPending, '-inf', Date.now() - RECONCILE_EVERY_MS, 'LIMIT', 0, 500);
    if (owed.length) {
      const raws = await redis.mget(...owed.map((id) => keys.outboxItem(id)));
      const lost = owed.filter((_, i) => raws[i] === null);
      if (lost.length) await redis.zrem(keys.outboxPending, ...lost);
      const deliveries = raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as Delivery);
      if (deliveries.length) {
        logger.info({ deliveries: deliveries.length }, 'queueing deliveries that were owed but not queued');
        await sender.send(deliveries);
      }
    }
    await drainLegacyWebhooks();
  }

  /** Final statuses recorded by nodes from before the outbox (`<orgId>:<requestId>`): their webhook calls. */
  async function drainLegacyWebhooks() {
    const owed = await redis.zrangebyscore(keys.webhooksPending, '-inf', Date.now() - RECONCILE_EVERY_MS, 'LIMIT', 0, 500);
    for (const member of owed) {
      const [orgId, requestId] = member.split(':') as [string, string];
      try {
        const stored = await signet.store.requests.get(orgId, requestId);
        if (stored?.value.isFinalStatus) await sender.send(await webhookDeliveries(signet, stored.value as RequestRecord));
        await redis.zrem(keys.webhooksPending, member);
      } catch (error) {
        // One request that cannot be handled now must not hold up the others.
        logger.warn({ err: error, requestId }, 'could not queue owed webhook calls; retrying later');
      }
    }
  }

  return {
    async close() {
      clearInterval(reconcileTimer);
      await Promise.allSettled(workers.map((worker) => worker.close()));
      mailer?.close();
      connections.disconnectAll();
    },
  };
}

/** Counts a delivery attempt: delivered, retrying, or gave_up on the last attempt. */
async function measured(metrics: Metrics | undefined, job: Job<Delivery>, deliver: () => Promise<void>): Promise<void> {
  const counter = (outcome: string) =>
    job.data.channel === 'webhook' ? metrics?.webhookDeliveries.inc({ outcome }) : metrics?.notificationDeliveries.inc({ channel: job.data.channel, outcome });
  try {
    await deliver();
    counter('delivered');
  } catch (error) {
    counter(job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? 'gave_up' : 'retrying');
    throw error;
  }
}
