// After a node committed a change of access (and its own feed re-checked the sockets in scope), it
// waits, for a bounded time, until every other node has applied it too: ordering does not depend on
// that (each node applies the change before anything committed after it), the command's
// acknowledgement does (SPEC §7: revocation is immediate). Nodes ask each other over the Socket.IO
// Redis adapter.
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Committed } from '../store/commit.js';
import { commitPosition, type CommittedFeed } from './committedEvents.js';
import type { SignetIo } from './io.js';

/** Adapter request: "have you applied the change of access committed at this position?" */
const CONFIRM_EVENT = 'signet:access-applied';

/** Waits until the other nodes confirm a change of access this node committed at `committedAt` (performance.now()). */
export type ConfirmAccess = (committed: Committed, committedAt: number) => Promise<void>;

/** Answers other nodes' requests from now on; returns how this node asks them. */
export function startAccessConfirmation(io: SignetIo, feed: CommittedFeed, logger: Logger, metrics: Metrics): ConfirmAccess {
  // Another node committed a change of access: answer once this node's feed has applied it (at
  // once if it is off the channel: it delivers nothing, and its sockets resume once it is back).
  io.on(CONFIRM_EVENT as never, (position: { orgId?: unknown; seq?: unknown }, ack: (applied: boolean) => void) => {
    if (typeof ack !== 'function') return;
    if (typeof position?.orgId !== 'string' || typeof position.seq !== 'number') return ack(false);
    if (!feed.live) return ack(true);
    feed.reached(position.orgId, position.seq).then(
      () => ack(true),
      () => ack(!feed.live),
    );
  });

  return async (committed, committedAt) => {
    const position = commitPosition(committed);
    if (!position) return;
    try {
      // The Redis adapter's requestsTimeout bounds the wait. A node that does not answer in time
      // (paused, overloaded) applies the change when it gets to it, before anything after it.
      const answers = (await (io as unknown as { serverSideEmitWithAck: (ev: string, arg: unknown) => Promise<boolean[]> })
        .serverSideEmitWithAck(CONFIRM_EVENT, position)) as boolean[];
      if (answers.some((applied) => !applied)) logger.error({ position }, 'a node could not confirm a change of access');
    } catch (error) {
      logger.warn({ err: error, position }, 'not every node confirmed a change of access in time; each applies it in order when it gets to it');
    } finally {
      metrics.revocationSeconds.observe((performance.now() - committedAt) / 1000);
    }
  };
}
