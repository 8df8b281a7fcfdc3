// The outbox: deliveries (mail, chat messages, webhook calls) a commit owes, written with the change
// that decides them and kept until they are queued (outreach/deliveries.ts says how they leave it).
import type { RedisKeys } from './keys.js';
import type { WriteOp } from './commit.js';
import type { WritePlan } from './plan.js';
import type { Delivery } from '../outreach/deliveries.js';

/** How long an owed delivery waits in the outbox at most (a reconciler queues it within seconds). */
const OUTBOX_TTL_MS = 7 * 24 * 3600 * 1000;

export function outboxStore(keys: RedisKeys) {
  return {
    /** Records deliveries as owed, for the commit that decides them. */
    owe(deliveries: readonly Delivery[]): WritePlan {
      const now = Date.now();
      return {
        expect: [],
        ops: deliveries.flatMap((delivery): WriteOp[] => [
          ['set', keys.outboxItem(delivery.id), JSON.stringify(delivery), OUTBOX_TTL_MS],
          ['zadd', keys.outboxPending, now, delivery.id],
        ]),
        events: [],
      };
    },
  };
}

