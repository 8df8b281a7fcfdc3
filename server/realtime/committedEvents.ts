// Delivering what was committed to the live sockets allowed to see it. The commit script publishes
// every commit's audit entries and events on one Redis channel, after they are written, and every
// node delivers from that channel, in its order: its own commits, other nodes' and the CLI's alike.
// One publish per commit, made by Redis itself: nodes encode nothing extra, and a node that dies
// right after committing cannot lose the broadcast.
import type { Redis } from 'ioredis';
import type { AuditEntry } from '../../src/lib/shared/entities.js';
import type { Audience, Committed } from '../store/commit.js';
import type { Signet, SignetIo } from '../signet.js';
import { audienceRoom, permissionRoom } from './rooms.js';

/** Emits committed audit entries and events to the rooms allowed to see them, on this node only. */
function deliverCommitted(io: SignetIo, committed: Committed): void {
  const local = io.local;
  for (const audit of committed.audits) {
    local.to(permissionRoom(audit.orgId, 'audit:read')).emit('audit', { seq: audit.eventSeq, entry: audit.entry });
  }
  for (const event of committed.events) {
    // No audience is nobody (an empty room list would mean every socket).
    if (event.audience.length === 0) continue;
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

/** Reads a published commit: `origin\n[items]`. */
function parsePublishedCommit(message: string): { origin: string; committed: Committed } | null {
  const newline = message.indexOf('\n');
  if (newline < 0) return null;
  const items = JSON.parse(message.slice(newline + 1)) as PublishedItem[];
  const committed: Committed = { audits: [], events: [] };
  for (const item of items) {
    if (item.k === 'audit') {
      committed.audits.push({ orgId: item.o, eventSeq: item.s, entry: { ...(item.d as Omit<AuditEntry, 'seq'>), seq: item.n! } });
    } else {
      committed.events.push({ orgId: item.o, kind: item.k, audience: item.a.split(',') as Audience[], data: item.d, seq: item.s });
    }
  }
  return { origin: message.slice(0, newline), committed };
}

/** How long a node waits for the published copy of its own commit before delivering it directly. */
const OWN_COMMIT_WAIT_MS = 1000;
const REMEMBERED_LIMIT = 10_000;

/**
 * This node's subscription to the commit channel. Every delivery to this node's sockets happens in
 * channel order (the order Redis committed in), its own commits included, so a socket never sees a
 * later event of an organization before an earlier one and a client resuming from the highest
 * sequence number it saw misses nothing.
 */
export interface CommittedFeed {
  /** True while subscribed. While false, nothing is delivered and handshakes are refused. */
  readonly live: boolean;
  /** Resolves once a commit this node made has been delivered to its sockets (through the channel). */
  delivered(committed: Committed): Promise<void>;
}

/** The first event a commit wrote identifies it on the channel. */
function commitKey(committed: Committed): string | null {
  const audit = committed.audits[0];
  if (audit) return `${audit.orgId}:${audit.eventSeq}`;
  const event = committed.events[0];
  return event ? `${event.orgId}:${event.seq}` : null;
}

function remember(set: Set<string>, key: string): void {
  if (set.size >= REMEMBERED_LIMIT) set.clear();
  set.add(key);
}

/**
 * Subscribes this node to the commit channel; resolves once subscribed. Should the subscription
 * drop (Redis away, a network blip), commits made meanwhile never reach this node's sockets. So
 * while it is down nothing is delivered (not even this node's own commits, which would move clients
 * past what they missed) and handshakes are refused; once it is back, this node's sockets are
 * disconnected, and clients come back with the last sequence number they saw and are replayed
 * exactly what they missed.
 */
export async function startCommittedFeed(signet: Signet, subscriber: Redis, io: SignetIo): Promise<CommittedFeed> {
  const channel = signet.keys.committedChannel;
  const origin = signet.commitOrigin;
  let live = false;
  /** Own commits whose apply() waits for their published copy. */
  const waiting = new Map<string, () => void>();
  /** Own commits delivered before apply() asked (the reply and the message race). */
  const arrivedFirst = new Set<string>();
  /** Own commits delivered directly because their copy was late: skipped when it comes. */
  const deliveredDirectly = new Set<string>();

  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    try {
      const published = parsePublishedCommit(message);
      if (!published) return;
      const key = published.origin === origin ? commitKey(published.committed) : null;
      if (key && deliveredDirectly.delete(key)) return;
      deliverCommitted(io, published.committed);
      if (!key) return;
      const release = waiting.get(key);
      if (release) {
        waiting.delete(key);
        release();
      } else {
        // Also the case when this node's apply() failed after Redis had committed (a lost reply):
        // its sockets still get the events.
        remember(arrivedFirst, key);
      }
    } catch (error) {
      signet.logger.error({ err: error }, 'a published commit could not be read');
    }
  });
  subscriber.on('close', () => {
    if (!live || signet.shuttingDown) return;
    live = false;
    signet.logger.warn('lost the commit channel: live delivery paused until it is back');
  });
  subscriber.on('ready', () => {
    if (live) return;
    // Explicitly, and live only once Redis confirmed it: no commit may slip between.
    subscriber.subscribe(channel).then(
      () => {
        if (live || signet.shuttingDown) return;
        live = true;
        signet.logger.warn('commit channel back: disconnecting this node\'s sockets so they resume what they missed');
        io.local.disconnectSockets(true);
      },
      (error: unknown) => signet.logger.warn({ err: error }, 'could not resubscribe to the commit channel'),
    );
  });
  await subscriber.subscribe(channel);
  live = true;

  return {
    get live() {
      return live;
    },
    delivered(committed) {
      const key = commitKey(committed);
      if (!key || arrivedFirst.delete(key)) return Promise.resolve();
      // Off the channel: its sockets will be replayed this commit when they resume.
      if (!live) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const late = setTimeout(() => {
          waiting.delete(key);
          // Lost the channel meanwhile: leave it to the replay, like everything else missed.
          if (live) {
            remember(deliveredDirectly, key);
            deliverCommitted(io, committed);
          }
          resolve();
        }, OWN_COMMIT_WAIT_MS);
        waiting.set(key, () => {
          clearTimeout(late);
          resolve();
        });
      });
    },
  };
}
