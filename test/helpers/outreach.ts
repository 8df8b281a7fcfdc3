// The delivery queues a node sends mail, chat messages and webhook calls from, seen from a test: to
// know when everything a change owed has been delivered (or given up), before asserting that
// someone got nothing.
import { Queue } from 'bullmq';
import type { SignetNode } from '../../server/index.js';
import { bullConnections } from '../../server/store/redis.js';
import { redisUrl } from './signet.js';

const UNFINISHED = ['wait', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export interface DeliveryQueues {
  /** Resolves once nothing is owed, waiting, running or waiting for a retry in any delivery queue. */
  settled(timeoutMs?: number): Promise<void>;
  /** Every job (any state) of one queue. */
  jobs(queue: 'mail' | 'chat' | 'webhooks'): Promise<Array<{ id?: string; data: any }>>;
  close(): Promise<void>;
}

export function deliveryQueues(node: SignetNode): DeliveryQueues {
  const connections = bullConnections(redisUrl());
  const prefix = node.signet.keys.bullPrefix;
  const queues = Object.fromEntries(
    (['mail', 'chat', 'webhooks'] as const).map((name) => [name, new Queue(name, { connection: connections.connection(false), prefix })]),
  ) as Record<'mail' | 'chat' | 'webhooks', Queue>;
  return {
    async settled(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const owed = await node.signet.redis.zcard(node.signet.keys.outboxPending);
        const counts = await Promise.all(Object.values(queues).map((queue) => queue.getJobCounts(...UNFINISHED)));
        const unfinished = counts.reduce((sum, count) => sum + Object.values(count).reduce((a, b) => a + b, 0), 0);
        if (owed === 0 && unfinished === 0) return;
        if (Date.now() > deadline) throw new Error(`deliveries not settled within ${timeoutMs} ms: ${owed} owed, ${unfinished} queued`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async jobs(queue) {
      return (await queues[queue].getJobs(['completed', 'failed', ...UNFINISHED])).filter(Boolean);
    },
    async close() {
      await Promise.allSettled(Object.values(queues).map((queue) => queue.close()));
      connections.disconnectAll();
    },
  };
}

/**
 * Fault injection: runs `work` as if the node died between each commit and the queueing of what it
 * owed (mail, chat messages, webhook calls): the deliveries stay owed in the outbox, for the
 * reconciler.
 */
export async function withoutQueueing<T>(node: SignetNode, work: () => Promise<T>): Promise<T> {
  const sender = node.signet.outreach!;
  const send = sender.send;
  sender.send = async () => {};
  try {
    return await work();
  } finally {
    sender.send = send;
  }
}
