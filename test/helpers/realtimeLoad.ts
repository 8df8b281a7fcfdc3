// Load helpers for ordered-delivery tests: a writer that commits audit entries as fast as it can, and
// readers of what a socket received on the wire.
import type { SignetNode } from '../../server/index.js';
import { auditDraft, CLI_SOURCE } from '../../server/audit/entries.js';
import { OPERATOR, type ClientSocket } from './signet.js';

export interface AuditWriter {
  /** Audit entries committed so far. */
  readonly written: number;
  /** Resolves once `count` more entries than now have been committed. */
  after(count: number): Promise<void>;
  /** Stops writing; resolves when the last commit in flight is done. */
  stop(): Promise<void>;
}

/**
 * Commits audit entries (as the CLI would) through `node`, `parallel` at a time, as fast as Redis
 * takes them, until stopped: the concurrent traffic that revocation and resuming must not mix up.
 */
export function startAuditWriter(node: SignetNode, orgId: string, parallel = 3): AuditWriter {
  let written = 0;
  let running = true;
  const waiters: Array<{ at: number; resolve: () => void }> = [];
  async function lane(lane: number) {
    while (running) {
      await node.signet.apply({
        audits: [
          auditDraft({
            orgId,
            actor: OPERATOR,
            action: 'load.write',
            target: { type: 'organization', id: orgId, name: `load ${lane}:${written}` },
            source: CLI_SOURCE,
          }),
        ],
      });
      written += 1;
      for (const waiter of waiters.filter((w) => w.at <= written)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }
  const lanes = Array.from({ length: parallel }, (_, i) => lane(i));
  return {
    get written() {
      return written;
    },
    after(count) {
      return new Promise((resolve) => waiters.push({ at: written + count, resolve }));
    },
    async stop() {
      running = false;
      await Promise.all(lanes);
    },
  };
}

/** The sequenced events (change, audit, notification) a socket received, in the order they came off the wire. */
export function sequenced(socket: ClientSocket): Array<{ event: string; seq: number; data: any }> {
  return socket.received
    .filter((r) => r.event === 'change' || r.event === 'audit' || r.event === 'notification')
    .map((r) => ({ event: r.event, seq: r.data.seq as number, data: r.data }));
}

/** Resolves once the socket has received a sequenced event numbered `seq` or later (perhaps already). */
export function seenThrough(socket: ClientSocket, seq: number, timeoutMs: number): Promise<void> {
  const reached = () => sequenced(socket).some((e) => e.seq >= seq);
  if (reached()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.offAny(check);
      reject(new Error(`no event numbered ${seq} or later within ${timeoutMs} ms`));
    }, timeoutMs);
    const check = () => {
      if (!reached()) return;
      clearTimeout(timer);
      socket.offAny(check);
      resolve();
    };
    socket.onAny(check);
  });
}
