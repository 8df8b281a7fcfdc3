// Prometheus metrics (GET /metrics). One registry per node, so tests can run two nodes in one process.
// Names and labels follow Prometheus' conventions (`promtool check metrics` finds nothing to lint:
// a test checks it on a live node).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';

/** What the queue-depth gauge reads: a BullMQ Queue fits. */
export interface CountsJobs {
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

/** What the job counters listen to: a BullMQ Worker fits. */
export interface EmitsJobEvents {
  on(event: 'completed' | 'failed' | 'stalled', listener: () => void): unknown;
}

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

const QUEUE_COUNT_TIMEOUT_MS = 1000;

function withinMs<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createMetrics() {
  const registry = new Registry();
  // The default set includes the event-loop lag (nodejs_eventloop_lag_seconds and its p50/p90/p99),
  // heap, GC and file descriptors.
  collectDefaultMetrics({ register: registry });
  // Gauges named *_total break Prometheus' naming rule (the suffix is for counters); each is the sum
  // of a labelled gauge that stays (nodejs_active_handles{type}, …).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  const queues = new Map<string, CountsJobs>();
  const jobs = new Counter({
    name: 'signet_queue_jobs_finished_total',
    help: 'Jobs this node\'s workers finished, by queue and outcome (completed, failed: one failed attempt, stalled: taken back from a worker that stopped answering)',
    labelNames: ['queue', 'outcome'] as const,
    registers: [registry],
  });

  return {
    registry,
    commands: new Counter({
      name: 'signet_commands_total',
      help: 'Commands handled, by name and outcome code',
      labelNames: ['command', 'outcome'] as const,
      registers: [registry],
    }),
    commandSeconds: new Histogram({
      name: 'signet_command_duration_seconds',
      help: 'Time from receiving a command to its acknowledgement',
      labelNames: ['command'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    httpSeconds: new Histogram({
      name: 'signet_http_request_duration_seconds',
      help: 'HTTP requests (not Socket.IO) by method, matched route pattern ("ui" for console pages and assets) and status, with latency',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    commandsInFlight: new Gauge({
      name: 'signet_commands_in_flight',
      help: 'Commands this node is running now (what a drain waits for)',
      registers: [registry],
    }),
    sockets: new Gauge({ name: 'signet_sockets', help: 'Connected sockets on this node', registers: [registry] }),
    queueJobs: new Gauge({
      name: 'signet_queue_jobs',
      help: 'Jobs in each BullMQ queue by state (shared by all nodes: read it from one node, or take the max)',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      async collect() {
        for (const [name, queue] of queues) {
          // A scrape while Redis is away or frozen keeps the last values rather than failing or
          // hanging the whole page (BullMQ's connections have no command timeout).
          const counts = await withinMs(queue.getJobCounts(...QUEUE_STATES), QUEUE_COUNT_TIMEOUT_MS).catch(() => null);
          if (!counts) continue;
          for (const state of QUEUE_STATES) this.set({ queue: name, state }, counts[state] ?? 0);
        }
      },
    }),
    jobs,
    signingSeconds: new Histogram({
      name: 'signet_signing_duration_seconds',
      help: 'Signing jobs on this node, from pick-up to the final commit, by outcome (completed, failed: refused with a reason, error: retried)',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    signingFailures: new Counter({
      name: 'signet_signing_failures_total',
      help: 'Signing jobs that did not complete, by kind (refused: the request failed with a reason; error: an attempt failed and is retried, or failed the request on its last attempt)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'signet_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (delivered, retrying, gave_up: the last attempt failed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    notificationDeliveries: new Counter({
      name: 'signet_notification_deliveries_total',
      help: 'Mail and chat delivery attempts by channel and outcome (delivered, retrying, gave_up: the last attempt failed)',
      labelNames: ['channel', 'outcome'] as const,
      registers: [registry],
    }),
    redisPingSeconds: new Histogram({
      name: 'signet_redis_ping_duration_seconds',
      help: 'Round trip of a PING to Redis, every few seconds',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    redisPingFailures: new Counter({
      name: 'signet_redis_ping_failures_total',
      help: 'PINGs to Redis that failed or timed out',
      registers: [registry],
    }),
    // The revocation histogram is defined for work still being built (issue 13): it stays empty until then.
    bufferDisconnects: new Counter({
      name: 'signet_socket_buffer_disconnects_total',
      help: 'Sockets disconnected because their buffered output passed the per-socket cap',
      registers: [registry],
    }),
    revocationSeconds: new Histogram({
      name: 'signet_revocation_confirmation_duration_seconds',
      help: 'From committing an access change to every node confirming it applied it',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    /** Reports the depth of a queue on every scrape. */
    watchQueue(name: string, queue: CountsJobs) {
      queues.set(name, queue);
    },
    /** Counts the jobs a worker of this node finishes, fails, or takes back from a stalled worker. */
    watchWorker(name: string, worker: EmitsJobEvents) {
      for (const outcome of ['completed', 'failed', 'stalled'] as const) worker.on(outcome, () => jobs.inc({ queue: name, outcome }));
    },
    auditRollbacks: new Counter({
      name: 'signet_audit_rollback_detected_total',
      help: 'Times this node found an organization\'s audit log in Redis behind a signed checkpoint it had seen (rolled back)',
      labelNames: ['org'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const REDIS_PING_EVERY_MS = 5000;

/** PINGs Redis every few seconds into the latency histogram; returns a stop function. */
export function startRedisProbe(redis: Redis, metrics: Metrics, everyMs = REDIS_PING_EVERY_MS): () => void {
  let busy = false;
  const probe = async () => {
    if (busy) return;
    busy = true;
    const stopTimer = metrics.redisPingSeconds.startTimer();
    try {
      await redis.ping();
      stopTimer();
    } catch {
      metrics.redisPingFailures.inc();
    } finally {
      busy = false;
    }
  };
  void probe();
  const timer = setInterval(() => void probe(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
