// Delivering what was committed to the live sockets allowed to see it. The commit script publishes
// every commit's audit entries and events on one Redis channel, after they are written, and every
// node delivers from that channel, in its order: its own commits, other nodes' and the CLI's alike.
// One publish per commit, made by Redis itself: nodes encode nothing extra, and a node that dies
// right after committing cannot lose the broadcast.
//
// A commit that changes access (a demotion, a removal, a revoked key, a sign-out) carries that change
// in the same message, and a node re-checks the sockets in scope before it delivers anything after
// it: the channel's order is the order in which access and events take effect, on every node, also
// on one that was paused and works through its backlog when it resumes.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { NodeStatus } from '../nodeStatus.js';
import type { AccessChange, Audience, Committed } from '../store/commit.js';
import type { CatchUps, Delivery } from './catchUp.js';
import type { SignetIo } from './io.js';
import { audienceRoom, permissionRoom } from './rooms.js';
import { EncodedJson } from './encodedEvents.js';

/** What a node does about changes of access, in the channel's order (access.ts). */
export interface AccessApplier {
  /**
   * Re-checks this node's sockets in scope: each is re-roomed or cut off before this resolves. Counts
   * the change at once, before anything is awaited: a handshake that read its actor while changes
   * of access began may have been missed by the re-check, and must read it again.
   */
  apply(change: AccessChange): Promise<void>;
  /** Cuts off sockets whose key or session has expired by now; called before each delivery. */
  expireDue(): void;
}

interface PublishedCommit {
  deliveries: Array<Delivery & { orgId: string }>;
  access: AccessChange | null;
}

/** A node asking "have you delivered everything published before this?" of its own feed. */
const BARRIER = 'barrier ';

/**
 * Reads a published commit (commit.lua): `origin`, `access` ('' or JSON), then two lines per item:
 * `kind orgId seq audiences` and the event as sockets receive it, which is sent on unread.
 */
function parsePublishedCommit(message: string): PublishedCommit | null {
  const lines = message.split('\n');
  if (lines.length < 4 || lines.length % 2 !== 0) return null;
  const deliveries: PublishedCommit['deliveries'] = [];
  for (let at = 2; at < lines.length; at += 2) {
    const [kind, orgId, seqText, audienceList] = lines[at]!.split(' ');
    const seq = Number(seqText);
    if (!orgId || !Number.isSafeInteger(seq) || audienceList === undefined) return null;
    const payload = new EncodedJson(lines[at + 1]!);
    if (kind === 'audit') {
      deliveries.push({ orgId, event: kind, seq, payload, rooms: [permissionRoom(orgId, 'audit:read')] });
    } else if (kind === 'change' || kind === 'notification') {
      // No audience is nobody: an empty room list (which would mean every socket) is never emitted to.
      const audiences = audienceList === '' ? [] : (audienceList.split(',') as Audience[]);
      deliveries.push({ orgId, event: kind, seq, payload, rooms: audiences.map((audience) => audienceRoom(orgId, audience)) });
    } else {
      return null;
    }
  }
  return { deliveries, access: lines[1] ? (JSON.parse(lines[1]) as AccessChange) : null };
}

/** How long a node waits for its own commit to come back on the channel before acknowledging it anyway. */
const OWN_COMMIT_WAIT_MS = 1000;
/** How long a barrier may take to come back before the socket waiting on it is given up (it resumes again). */
const BARRIER_TIMEOUT_MS = 10_000;

/**
 * This node's subscription to the commit channel. Every delivery to this node's sockets happens in
 * channel order (the order Redis committed in), its own commits included, so a socket never sees a
 * later event of an organization before an earlier one, nor an event committed after its access
 * was taken away, and a client resuming from the highest sequence number it saw misses nothing.
 */
export interface CommittedFeed {
  /** True while subscribed. While false, nothing is delivered and handshakes are refused. */
  readonly live: boolean;
  /**
   * Resolves once a commit this node made has been delivered (and its change of access applied) on
   * this node, or after a short wait: the channel delivers it in order anyway.
   */
  delivered(committed: Committed): Promise<void>;
  /** The highest sequence number of the organization this node has delivered (-1: none yet). */
  deliveredThrough(orgId: string): number;
  /**
   * Resolves once this node has delivered the organization's events up to `seq` (all committed
   * before the call): at once if it has, else after a barrier published on the channel comes back.
   */
  reached(orgId: string, seq: number): Promise<void>;
}

export interface FeedParts {
  /** A subscriber connection of the feed's own. */
  subscriber: Redis;
  /** Publishes the feed's barriers. */
  redis: Redis;
  channel: string;
  /** This node's commit origin (store.ts): names its barriers. */
  origin: string;
  logger: Logger;
  status: NodeStatus;
  /** Delivers to this node's sockets (io.local). */
  io: SignetIo;
  access: AccessApplier;
  catchUps: CatchUps;
}

/** The organization and sequence number that tell whether a node has delivered a commit. */
export function commitPosition(committed: Committed): { orgId: string; seq: number } | null {
  const audit = committed.audits[0];
  if (audit) return { orgId: audit.orgId, seq: audit.eventSeq };
  const event = committed.events[0];
  return event ? { orgId: event.orgId, seq: event.seq } : null;
}

interface Barrier {
  token: string;
  targets: Array<{ orgId: string; seq: number }>;
  resolve: () => void;
  reject: (error: Error) => void;
  promise: Promise<void>;
  timer?: NodeJS.Timeout;
}

/**
 * Subscribes this node to the commit channel; resolves once subscribed. Should the subscription
 * drop (Redis away, a network blip, or Redis closing a subscriber that fell too far behind), commits
 * made meanwhile never reach this node's sockets. So while it is down nothing is delivered (not
 * even this node's own commits, which would move clients past what they missed) and handshakes are
 * refused; once it is back, this node's sockets are disconnected, and clients come back with the
 * last sequence number they saw, are authorized afresh, and are replayed exactly what they missed.
 */
export async function startCommittedFeed({ subscriber, redis, channel, origin, logger, status, io, access, catchUps }: FeedParts): Promise<CommittedFeed> {
  let live = false;
  /** Per organization, the highest sequence number delivered. */
  const through = new Map<string, number>();
  /** apply() calls waiting for their own commit, per organization. */
  const waiting = new Map<string, Array<{ seq: number; release: () => void }>>();
  let nextBarrier: Barrier | null = null;
  const sentBarriers = new Map<string, Barrier>();
  let barrierCount = 0;

  const deliveredThrough = (orgId: string) => through.get(orgId) ?? -1;

  function advance(orgId: string, seq: number): void {
    if (seq <= deliveredThrough(orgId)) return;
    through.set(orgId, seq);
    const waiters = waiting.get(orgId);
    if (!waiters) return;
    const remaining = waiters.filter((waiter) => waiter.seq > seq);
    for (const waiter of waiters) if (waiter.seq <= seq) waiter.release();
    if (remaining.length) waiting.set(orgId, remaining);
    else waiting.delete(orgId);
  }

  function deliver(commit: PublishedCommit): void {
    const local = io.local;
    for (const delivery of commit.deliveries) {
      if (delivery.rooms.length > 0) local.to(delivery.rooms as string[]).emit(delivery.event, delivery.payload as never);
      catchUps.offer(delivery.orgId, delivery);
    }
  }

  function finish(commit: PublishedCommit): void {
    for (const delivery of commit.deliveries) advance(delivery.orgId, delivery.seq);
  }

  /** Handles one channel message; returns a promise only while a change of access is being applied. */
  function handle(message: string): Promise<void> | undefined {
    if (message.startsWith(BARRIER)) {
      settleBarrier(message.slice(BARRIER.length));
      return undefined;
    }
    let commit: PublishedCommit | null;
    try {
      commit = parsePublishedCommit(message);
    } catch (error) {
      logger.error({ err: error }, 'a published commit could not be read');
      return undefined;
    }
    if (!commit) {
      logger.error({ length: message.length }, 'a published commit could not be read: not in the format commit.lua writes');
      return undefined;
    }
    access.expireDue();
    deliver(commit);
    if (!commit.access) {
      finish(commit);
      return undefined;
    }
    // Nothing after this commit is delivered until its change of access is applied here.
    const { access: change } = commit;
    return access
      .apply(change)
      .catch((error: unknown) => logger.error({ err: error }, 'a change of access could not be applied'))
      .then(() => finish(commit));
  }

  const queue: Array<string | undefined> = [];
  let head = 0;
  let draining = false;

  /** Handles the queued messages one after the other, waiting only while a change of access is applied. */
  async function drain(): Promise<void> {
    draining = true;
    while (head < queue.length) {
      const message = queue[head]!;
      queue[head++] = undefined;
      try {
        const pending = handle(message);
        if (pending) await pending;
      } catch (error) {
        logger.error({ err: error }, 'a published commit could not be delivered');
      }
    }
    queue.length = 0;
    head = 0;
    draining = false;
  }

  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    queue.push(message);
    if (draining) return;
    // Drained in a microtask: what a delivery settles (the committing command's answer) is sent in
    // the same turn, so a socket's events and its acknowledgement leave in one flush.
    draining = true;
    queueMicrotask(() => void drain());
  });

  function settleBarrier(token: string): void {
    const barrier = sentBarriers.get(token);
    if (!barrier) return; // another node's
    sentBarriers.delete(token);
    clearTimeout(barrier.timer);
    // Everything committed before the barrier was published has been delivered by now.
    for (const { orgId, seq } of barrier.targets) advance(orgId, seq);
    barrier.resolve();
  }

  function failBarrier(barrier: Barrier, error: Error): void {
    clearTimeout(barrier.timer);
    sentBarriers.delete(barrier.token);
    if (nextBarrier === barrier) nextBarrier = null;
    barrier.reject(error);
  }

  function newBarrier(): Barrier {
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    const barrier: Barrier = { token: `${origin}:${(barrierCount += 1)}`, targets: [], resolve, reject, promise };
    // Published on the next turn: callers in this one (whose reads are done) share it.
    setImmediate(() => {
      if (nextBarrier !== barrier) return;
      nextBarrier = null;
      sentBarriers.set(barrier.token, barrier);
      barrier.timer = setTimeout(() => failBarrier(barrier, new Error(`the commit channel did not return a barrier within ${BARRIER_TIMEOUT_MS} ms`)), BARRIER_TIMEOUT_MS);
      barrier.timer.unref();
      redis.publish(channel, `${BARRIER}${barrier.token}`).catch((error: unknown) => failBarrier(barrier, error as Error));
    });
    return barrier;
  }

  subscriber.on('close', () => {
    if (!live || status.draining) return;
    live = false;
    logger.warn('lost the commit channel: live delivery paused until it is back');
    // Nobody waits for a channel that is gone: this node's sockets resume once it is back.
    for (const waiters of waiting.values()) for (const waiter of waiters) waiter.release();
    waiting.clear();
    const lost = new Error('this node lost the commit channel');
    for (const barrier of [...sentBarriers.values(), ...(nextBarrier ? [nextBarrier] : [])]) failBarrier(barrier, lost);
  });
  subscriber.on('ready', () => {
    if (live) return;
    // Explicitly, and live only once Redis confirmed it: no commit may slip between.
    subscriber.subscribe(channel).then(
      () => {
        if (live || status.draining) return;
        live = true;
        logger.warn('commit channel back: disconnecting this node\'s sockets so they resume what they missed');
        io.local.disconnectSockets(true);
      },
      (error: unknown) => logger.warn({ err: error }, 'could not resubscribe to the commit channel'),
    );
  });
  await subscriber.subscribe(channel);
  live = true;

  return {
    get live() {
      return live;
    },
    deliveredThrough,
    delivered(committed) {
      const position = commitPosition(committed);
      // Off the channel: its sockets will be replayed this commit when they resume.
      if (!position || !live || deliveredThrough(position.orgId) >= position.seq) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const waiter = { seq: position.seq, release: () => {} };
        const late = setTimeout(() => {
          const waiters = waiting.get(position.orgId) ?? [];
          const at = waiters.indexOf(waiter);
          if (at >= 0) waiters.splice(at, 1);
          if (waiters.length === 0) waiting.delete(position.orgId);
          resolve();
        }, OWN_COMMIT_WAIT_MS);
        waiter.release = () => {
          clearTimeout(late);
          resolve();
        };
        const waiters = waiting.get(position.orgId);
        if (waiters) waiters.push(waiter);
        else waiting.set(position.orgId, [waiter]);
      });
    },
    reached(orgId, seq) {
      if (deliveredThrough(orgId) >= seq) return Promise.resolve();
      if (!live) return Promise.reject(new Error('this node is off the commit channel'));
      nextBarrier ??= newBarrier();
      nextBarrier.targets.push({ orgId, seq });
      return nextBarrier.promise;
    },
  };
}
