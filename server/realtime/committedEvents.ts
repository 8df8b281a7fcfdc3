// Delivering what was committed to the live sockets allowed to see it. The commit script publishes
// every commit's audit entries and events on one Redis channel, after they are written; the node
// that committed delivers to its own sockets straight away, every other node (and every change the
// CLI makes) arrives through the channel. One publish per commit, made by Redis itself: nodes
// encode nothing extra, and a node that dies right after committing cannot lose the broadcast.
import type { Redis } from 'ioredis';
import type { AuditEntry } from '../../src/lib/shared/entities.js';
import type { Audience, Committed } from '../store/commit.js';
import type { Signet, SignetIo } from '../signet.js';
import { audienceRoom, permissionRoom } from './rooms.js';

/** Emits committed audit entries and events to the rooms allowed to see them, on this node only. */
export function deliverCommitted(io: SignetIo, committed: Committed): void {
  const local = io.local;
  for (const audit of committed.audits) {
    local.to(permissionRoom(audit.orgId, 'audit:read')).emit('audit', { seq: audit.eventSeq, entry: audit.entry });
  }
  for (const event of committed.events) {
    const rooms = event.audience.length === 1 ? audienceRoom(event.orgId, event.audience[0]!) : event.audience.map((audience) => audienceRoom(event.orgId, audience));
    if (event.kind === 'change') local.to(rooms).emit('change', { seq: event.seq, ...(event.data as object) } as never);
    else local.to(rooms).emit('notification', { seq: event.seq, ...(event.data as object) } as never);
  }
}

/** One item of a published commit (built by commit.lua). */
interface PublishedItem {
  k: 'audit' | 'change' | 'notification';
  /** Organization id. */
  o: string;
  /** Event sequence number in the organization's stream. */
  s: number;
  /** Audit sequence number (audit entries only). */
  n?: number;
  /** Audiences, comma-separated. */
  a: string;
  d: unknown;
}

/** Reads a published commit: `origin\n[items]`. Null for this node's own commits. */
export function parsePublishedCommit(message: string, ownOrigin: string): Committed | null {
  const newline = message.indexOf('\n');
  if (newline < 0 || (newline === ownOrigin.length && message.startsWith(ownOrigin))) return null;
  const items = JSON.parse(message.slice(newline + 1)) as PublishedItem[];
  const committed: Committed = { audits: [], events: [] };
  for (const item of items) {
    if (item.k === 'audit') {
      committed.audits.push({ orgId: item.o, eventSeq: item.s, entry: { ...(item.d as Omit<AuditEntry, 'seq'>), seq: item.n! } });
    } else {
      committed.events.push({ orgId: item.o, kind: item.k, audience: item.a.split(',') as Audience[], data: item.d, seq: item.s });
    }
  }
  return committed;
}

/** Subscribes this node to every commit made elsewhere. Resolves once subscribed. */
export async function subscribeToCommitted(signet: Signet, subscriber: Redis, io: SignetIo): Promise<void> {
  const channel = signet.keys.committedChannel;
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    try {
      const committed = parsePublishedCommit(message, signet.commitOrigin);
      if (committed) deliverCommitted(io, committed);
    } catch (error) {
      signet.logger.error({ err: error }, 'a published commit could not be read');
    }
  });
  await subscriber.subscribe(channel);
}
