// Signing and expiry jobs on BullMQ: any node may run a job, none runs one twice (BullMQ's job
// lock), a job whose worker died mid-way is picked up again once its lock lapses (stalled-job
// detection), and a reconciler re-queues signing jobs and expiries that a crash lost between commit
// and enqueue. (Webhook calls, mail and chat messages: server/outreach/queue.ts.)
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '../logger.js';
import { runEscalationStep, type OnlineUsers } from './escalation.js';
import type { Metrics } from '../metrics.js';
import type { Signet } from '../signet.js';
import { bullConnections, type RedisTarget } from '../store/redis.js';
import type { SigningJobs } from './jobs.js';
import { expireRequest, signRequest } from './worker.js';

interface RequestJob {
  orgId: string;
  requestId: string;
}

const RECONCILE_EVERY_MS = 5000;

/** The signing queue's producing side: what a commit queues (SigningJobs), on a connection of its own. */
export interface SigningQueue {
  readonly jobs: SigningJobs;
  readonly queue: Queue<RequestJob>;
  /** Where BullMQ keeps its keys (the store's layout, keys.ts): the workers use the same. */
  readonly prefix: string;
  close(): Promise<void>;
}

/** A delayed job may fire up to this much before the worker's clock reaches its time. */
const ESCALATION_LEEWAY_MS = 1000;

export function openSigningQueue(target: RedisTarget, { prefix, logger, metrics }: { prefix: string; logger: Logger; metrics?: Metrics }): SigningQueue {
  const connections = bullConnections(target);
  const signingQueue = new Queue<RequestJob>('signing', { connection: connections.connection(false), prefix });
  signingQueue.on('error', (error) => logger.debug({ err: error }, 'signing queue'));
  metrics?.watchQueue('signing', signingQueue);

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
    async scheduleEscalation(request) {
      const escalation = request.escalation;
      if (!escalation) return;
      // Two delayed jobs, each named after the request: any node runs each once; the step itself
      // checks what is due, so a late or repeated one does nothing.
      for (const [step, at] of [['nudge', escalation.nudgeAt], ['escalate', escalation.escalateAt]] as const) {
        await signingQueue.add(step, { orgId: request.orgId, requestId: request.id }, {
          jobId: `${step}-${request.id}`,
          delay: Math.max(0, Date.parse(at) - Date.now()),
          attempts: 5,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: true,
          removeOnFail: { age: 7 * 24 * 3600 },
        });
      }
    },
  };

  return {
    jobs,
    queue: signingQueue,
    prefix,
    async close() {
      await signingQueue.close().catch(() => {});
      connections.disconnectAll();
    },
  };
}

export interface SigningWorkers {
  /** Takes no new job; resolves once this node's running jobs are done (BullMQ's Worker.close). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/**
 * This node's signing worker and its reconciler. `online`: who is online in an organization
 * (escalation nudges them first).
 */
export function startSigningWorkers(signet: Signet, signingQueue: SigningQueue, target: RedisTarget, metrics?: Metrics, online: OnlineUsers = async () => []): SigningWorkers {
  const { config, logger } = signet;
  const connections = bullConnections(target);
  const { jobs, queue, prefix } = signingQueue;
  const signingWorker = new Worker<RequestJob>(
    'signing',
    async (job: Job<RequestJob>) => {
      if (job.name === 'sign') return measureSigning(metrics, () => signRequest(signet, job.data.orgId, job.data.requestId, { finalAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }));
      if (job.name === 'expire') return expireRequest(signet, job.data.orgId, job.data.requestId);
      if (job.name === 'nudge' || job.name === 'escalate') return runEscalationStep(signet, job.data.orgId, job.data.requestId, online, { step: job.name, leewayMs: ESCALATION_LEEWAY_MS });
    },
    {
      connection: connections.connection(true),
      prefix,
      concurrency: config.SIGNET_WORKER_CONCURRENCY,
      lockDuration: config.SIGNET_JOB_LOCK_MS,
      stalledInterval: Math.max(500, Math.floor(config.SIGNET_JOB_LOCK_MS / 2)),
      maxStalledCount: 2,
    },
  );
  metrics?.watchWorker('signing', signingWorker);
  signingWorker.on('error', (error) => logger.debug({ err: error }, 'worker'));
  signingWorker.on('failed', (job, error) => logger.warn({ job: job?.name, requestId: job?.data.requestId, attempts: job?.attemptsMade, err: error.message }, 'job failed'));
  const reconcileTimer = setInterval(() => void reconcile().catch((error) => logger.debug({ err: error }, 'reconciling deferred')), RECONCILE_EVERY_MS);
  reconcileTimer.unref();

  /**
   * Re-queues signing jobs for requests that have been queued a while (jobIds make this
   * idempotent), and expires requests whose expiry job was lost.
   */
  async function reconcile() {
    const { requests } = signet.store;
    const before = Date.now() - RECONCILE_EVERY_MS;
    for (const overdue of await requests.due('expiring', before, 500)) {
      await expireRequest(signet, overdue.orgId, overdue.requestId);
      await requests.unschedule('expiring', overdue);
    }
    // Escalation steps whose jobs a crash lost (the step does nothing when it is not due or done).
    for (const due of await requests.due('escalating', before, 500)) {
      const outcome = await runEscalationStep(signet, due.orgId, due.requestId, online);
      if (outcome === 'gone' || outcome === 'not waiting') await requests.unschedule('escalating', due);
    }
    for (const stale of await requests.due('queued', before, 500)) {
      const { orgId, requestId } = stale;
      const job = await queue.getJob(`sign-${requestId}`);
      if (job && !(await job.isCompleted()) && !(await job.isFailed())) continue;
      const stored = await requests.get(orgId, requestId);
      if (!stored || !['QueuedForProcessing', 'Processing'].includes(stored.value.workflowStatus)) {
        await requests.unschedule('queued', stale);
        continue;
      }
      if (job) await job.remove().catch(() => {});
      logger.info({ orgId, requestId }, 're-queueing a signing job that was lost');
      await jobs.enqueueSigning(stored.value);
    }
  }

  const stop = async () => {
    clearInterval(reconcileTimer);
    await signingWorker.close().catch(() => {});
  };
  return {
    stop,
    async close() {
      await stop();
      connections.disconnectAll();
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
