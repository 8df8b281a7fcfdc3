// Signing, expiry and webhook jobs on BullMQ: any node may run a job, none runs one twice (BullMQ's
// job lock), a job whose worker died mid-way is picked up again once its lock lapses (stalled-job
// detection), and a reconciler re-queues signing jobs and webhook deliveries that a crash lost
// between commit and enqueue.
import { Queue, Worker, type Job } from 'bullmq';
import { createHmac, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Signet } from '../signet.js';
import { createRedisClient, type RedisTarget } from '../store/redis.js';
import type { SigningJobs } from './lifecycle.js';
import { expireRequest, signRequest } from './worker.js';
import { openPrivateKey } from './keyVault.js';
import { OutboundError } from '../net/outbound.js';
import type { Metrics } from '../metrics.js';

interface RequestJob {
  orgId: string;
  requestId: string;
}

interface WebhookJob extends RequestJob {
  webhookId: string;
  body: string;
}

const RECONCILE_EVERY_MS = 5000;

export interface SigningQueues {
  jobs: SigningJobs;
  close(): Promise<void>;
}

/** Starts the queues (and, unless `workers` is false, this node's workers and reconciler). */
export function startSigningQueues(signet: Signet, redis: RedisTarget, options: { workers: boolean; metrics?: Metrics }): SigningQueues {
  const { metrics } = options;
  const { config, keys, logger } = signet;
  const clients: Redis[] = [];
  // BullMQ wants its own connections; workers block and must never give up on Redis.
  const connection = (forWorker: boolean) => {
    const client = createRedisClient(redis, {
      lazyConnect: false,
      maxRetriesPerRequest: null,
      enableOfflineQueue: forWorker,
      // BullMQ issues blocking commands; auto-pipelining must stay off for its connections.
      enableAutoPipelining: false,
      commandTimeout: undefined,
      // A worker's connections are copied for its blocking waits, which may rightly hear nothing
      // for seconds; BullMQ resets a wait that outlasts its timeout by itself.
      ...(forWorker ? { socketTimeout: undefined } : {}),
    });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };
  const prefix = keys.bullPrefix;
  const signingQueue = new Queue<RequestJob>('signing', { connection: connection(false), prefix });
  const webhookQueue = new Queue<WebhookJob>('webhooks', { connection: connection(false), prefix });
  signingQueue.on('error', (error) => logger.debug({ err: error }, 'signing queue'));
  webhookQueue.on('error', (error) => logger.debug({ err: error }, 'webhook queue'));
  metrics?.watchQueue('signing', signingQueue);
  metrics?.watchQueue('webhooks', webhookQueue);

  const jobs: SigningJobs = {
    async enqueueSigning(request) {
      await signingQueue.add('sign', { orgId: request.orgId, requestId: request.id }, {
        jobId: `sign-${request.id}`,
        attempts: 3,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
    },
    async scheduleExpiry(request) {
      if (!request.expiresAt) return;
      await signingQueue.add('expire', { orgId: request.orgId, requestId: request.id }, {
        jobId: `expire-${request.id}`,
        delay: Math.max(0, Date.parse(request.expiresAt) - Date.now()),
        attempts: 5,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: true,
        removeOnFail: { age: 7 * 24 * 3600 },
      });
    },
    async enqueueWebhooks(request) {
      const [webhooks, org] = await Promise.all([signet.repos.webhooks(request.projectId), signet.repos.org(request.orgId)]);
      const body = JSON.stringify({ organization: org?.value.slug ?? request.orgId, signingRequestId: request.id, status: request.status });
      await Promise.all(
        webhooks.map((webhook) =>
          webhookQueue.add('deliver', { orgId: request.orgId, requestId: request.id, webhookId: webhook.id, body }, {
            jobId: `webhook-${webhook.id}-${request.id}`,
            attempts: config.SIGNET_WEBHOOK_ATTEMPTS,
            backoff: { type: 'exponential', delay: 1000 },
            removeOnComplete: { age: 24 * 3600 },
            removeOnFail: { age: 7 * 24 * 3600 },
          }),
        ),
      );
      // Queued (job ids make a second queueing a no-op): no longer owed.
      await signet.redis.zrem(keys.webhooksPending, `${request.orgId}:${request.id}`);
    },
  };

  const workers: Worker[] = [];
  let reconcileTimer: NodeJS.Timeout | null = null;
  if (options.workers) {
    const signingWorker = new Worker<RequestJob>(
      'signing',
      async (job: Job<RequestJob>) => {
        if (job.name === 'sign') return measureSigning(metrics, () => signRequest(signet, job.data.requestId, { finalAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }));
        if (job.name === 'expire') return expireRequest(signet, job.data.requestId);
      },
      {
        connection: connection(true),
        prefix,
        concurrency: config.SIGNET_WORKER_CONCURRENCY,
        lockDuration: config.SIGNET_JOB_LOCK_MS,
        stalledInterval: Math.max(500, Math.floor(config.SIGNET_JOB_LOCK_MS / 2)),
        maxStalledCount: 2,
      },
    );
    const webhookWorker = new Worker<WebhookJob>('webhooks', (job) => measureDelivery(metrics, job, () => deliverWebhook(signet, job.data)), {
      connection: connection(true),
      prefix,
      concurrency: 8,
    });
    for (const [queue, worker] of [['signing', signingWorker], ['webhooks', webhookWorker]] as const) {
      worker.on('completed', () => metrics?.jobs.inc({ queue, outcome: 'completed' }));
      worker.on('failed', () => metrics?.jobs.inc({ queue, outcome: 'failed' }));
      worker.on('stalled', () => metrics?.jobs.inc({ queue, outcome: 'stalled' }));
      worker.on('error', (error) => logger.debug({ err: error }, 'worker'));
      worker.on('failed', (job, error) => logger.warn({ job: job?.name, requestId: job?.data.requestId, attempts: job?.attemptsMade, err: error.message }, 'job failed'));
      workers.push(worker);
    }
    reconcileTimer = setInterval(() => void reconcile().catch((error) => logger.debug({ err: error }, 'reconciling deferred')), RECONCILE_EVERY_MS);
    reconcileTimer.unref();
  }

  /**
   * Re-queues signing jobs for requests that have been queued a while (jobIds make this
   * idempotent), expires requests whose expiry job was lost, and queues the webhook deliveries
   * still owed a while after a request became final.
   */
  async function reconcile() {
    const overdue = await signet.redis.zrangebyscore(keys.signingExpiring, '-inf', Date.now() - RECONCILE_EVERY_MS, 'LIMIT', 0, 500);
    for (const member of overdue) {
      const requestId = member.split(':')[1]!;
      await expireRequest(signet, requestId);
      await signet.redis.zrem(keys.signingExpiring, member);
    }
    const stale = await signet.redis.zrangebyscore(keys.signingQueued, '-inf', Date.now() - RECONCILE_EVERY_MS, 'LIMIT', 0, 500);
    for (const member of stale) {
      const [orgId, requestId] = member.split(':') as [string, string];
      const job = await signingQueue.getJob(`sign-${requestId}`);
      if (job && !(await job.isCompleted()) && !(await job.isFailed())) continue;
      const stored = await signet.repos.request(requestId);
      if (!stored || !['QueuedForProcessing', 'Processing'].includes(stored.value.workflowStatus)) {
        await signet.redis.zrem(keys.signingQueued, member);
        continue;
      }
      if (job) await job.remove().catch(() => {});
      logger.info({ orgId, requestId }, 're-queueing a signing job that was lost');
      await jobs.enqueueSigning(stored.value);
    }
    const owed = await signet.redis.zrangebyscore(keys.webhooksPending, '-inf', Date.now() - RECONCILE_EVERY_MS, 'LIMIT', 0, 500);
    for (const member of owed) {
      const [orgId, requestId] = member.split(':') as [string, string];
      try {
        const stored = await signet.repos.request(requestId);
        if (!stored?.value.isFinalStatus) {
          await signet.redis.zrem(keys.webhooksPending, member);
          continue;
        }
        logger.info({ orgId, requestId }, 'queueing webhook deliveries that were lost');
        await jobs.enqueueWebhooks(stored.value);
      } catch (error) {
        // One request that cannot be handled now must not hold up the others.
        logger.warn({ err: error, orgId, requestId }, 'could not queue owed webhook deliveries; retrying later');
      }
    }
  }

  return {
    jobs,
    async close() {
      if (reconcileTimer) clearInterval(reconcileTimer);
      await Promise.allSettled(workers.map((worker) => worker.close()));
      await Promise.allSettled([signingQueue.close(), webhookQueue.close()]);
      for (const client of clients) client.disconnect();
    },
  };
}

/** Times a signing job by its outcome: completed, failed (refused with a reason, not retried) or error (retried). */
async function measureSigning(metrics: Metrics | undefined, sign: () => Promise<string>): Promise<string> {
  const stopTimer = metrics?.signingSeconds.startTimer();
  try {
    const outcome = await sign();
    if (outcome === 'completed' || outcome === 'failed') stopTimer?.({ outcome });
    if (outcome === 'failed') metrics?.signingFailures.inc({ kind: 'refused' });
    return outcome;
  } catch (error) {
    stopTimer?.({ outcome: 'error' });
    metrics?.signingFailures.inc({ kind: 'error' });
    throw error;
  }
}

/** Counts a delivery attempt: delivered, retrying, or gave_up on the last attempt. */
async function measureDelivery(metrics: Metrics | undefined, job: Job<WebhookJob>, deliver: () => Promise<void>): Promise<void> {
  try {
    await deliver();
    metrics?.webhookDeliveries.inc({ outcome: 'delivered' });
  } catch (error) {
    metrics?.webhookDeliveries.inc({ outcome: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? 'gave_up' : 'retrying' });
    throw error;
  }
}

/**
 * POSTs `{organization, signingRequestId, status}` with an HMAC-SHA256 signature; throws (and so is
 * retried) on failure. Redirects are not followed: a receiver must answer 2xx at the URL it gave.
 */
async function deliverWebhook(signet: Signet, job: WebhookJob): Promise<void> {
  const stored = await signet.repos.webhook(job.webhookId);
  if (!stored) return; // deleted meanwhile
  const secret = openPrivateKey(signet.config.masterKey, stored.value.sealedSecret, `webhook:${stored.value.id}`).toString();
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`${timestamp}.${job.body}`).digest('hex');
  let status: number;
  try {
    ({ status } = await signet.outbound.request(stored.value.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Signet-Webhook/1',
        'x-signet-delivery': randomUUID(),
        'x-signet-timestamp': String(timestamp),
        'x-signet-signature': `sha256=${signature}`,
      },
      body: job.body,
      timeoutMs: 10_000,
    }));
  } catch (error) {
    if (error instanceof OutboundError) {
      signet.logger.warn({ orgId: job.orgId, webhookId: job.webhookId, detail: error.detail }, 'webhook delivery failed');
    }
    throw error;
  }
  if (status < 200 || status >= 300) throw new Error(`webhook answered ${status}`);
}
