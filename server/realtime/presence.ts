// Presence: who is online in the organization and on which page. Kept in Redis per socket (with the
// node that holds it), so every node sees everyone; entries of a node that died vanish with its
// heartbeat key.
import type { Redis } from 'ioredis';
import type { PresenceEntry } from '../../src/lib/shared/events.js';
import type { NodeStatus } from '../nodeStatus.js';
import type { RedisKeys } from '../store/keys.js';
import type { SignetIo } from './io.js';
import { orgRoom } from './rooms.js';

interface StoredPresence extends PresenceEntry {
  nodeId: string;
}

const NODE_HEARTBEAT_MS = 5000;
const PRESENCE_COALESCE_MS = 250;

export interface PresenceParts {
  redis: Redis;
  keys: RedisKeys;
  nodeId: string;
  io: SignetIo;
  status: NodeStatus;
}

export interface Presence {
  /** Who is online in the organization now, on any node. */
  list(orgId: string): Promise<PresenceEntry[]>;
  set(orgId: string, socketId: string, entry: PresenceEntry): Promise<void>;
  remove(orgId: string, socketId: string): Promise<void>;
  /** Sends the organization's presence to its sockets now; returns it. */
  broadcast(orgId: string): Promise<PresenceEntry[]>;
  /**
   * Broadcasts the organization's presence soon, once for everything that changed meanwhile: when
   * a thousand people connect at once, they get a few presence lists, not a million.
   */
  scheduleBroadcast(orgId: string): void;
}

export function createPresence({ redis, keys, nodeId, io, status }: PresenceParts): Presence {
  async function list(orgId: string): Promise<PresenceEntry[]> {
    const stored = Object.entries(await redis.hgetall(keys.presence(orgId))).map(([socketId, raw]) => [socketId, JSON.parse(raw) as StoredPresence] as const);
    const nodeIds = [...new Set(stored.map(([, entry]) => entry.nodeId))];
    const alive = nodeIds.length ? await redis.mget(...nodeIds.map(keys.nodeAlive)) : [];
    const liveNodes = new Set(nodeIds.filter((_, i) => alive[i] !== null));
    // Connections of nodes that died (no heartbeat) are gone for good: forget them.
    const dead = stored.filter(([, entry]) => !liveNodes.has(entry.nodeId)).map(([socketId]) => socketId);
    if (dead.length) await redis.hdel(keys.presence(orgId), ...dead);
    // One row per user: the page of their most recent connection.
    const byUser = new Map<string, PresenceEntry>();
    for (const [, { nodeId: holder, ...entry }] of stored) {
      if (!liveNodes.has(holder)) continue;
      const seen = byUser.get(entry.userId);
      if (!seen || seen.since < entry.since) byUser.set(entry.userId, entry);
    }
    return [...byUser.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async function broadcast(orgId: string): Promise<PresenceEntry[]> {
    const [online, seq] = await Promise.all([list(orgId), redis.get(keys.eventSeq(orgId))]);
    io.to(orgRoom(orgId)).emit('presence', { seq: Number(seq ?? 0), online });
    return online;
  }

  const pending = new Map<string, NodeJS.Timeout>();

  return {
    list,
    async set(orgId, socketId, entry) {
      const stored: StoredPresence = { ...entry, nodeId };
      await redis.hset(keys.presence(orgId), socketId, JSON.stringify(stored));
    },
    async remove(orgId, socketId) {
      await redis.hdel(keys.presence(orgId), socketId);
    },
    broadcast,
    scheduleBroadcast(orgId) {
      if (pending.has(orgId)) return;
      const timer = setTimeout(() => {
        pending.delete(orgId);
        if (status.draining) return;
        broadcast(orgId).catch(() => {});
      }, PRESENCE_COALESCE_MS);
      timer.unref();
      pending.set(orgId, timer);
    },
  };
}

/** Keeps this node's heartbeat alive; returns a stop function, which ends it. */
export function startNodeHeartbeat(redis: Redis, keys: RedisKeys, nodeId: string): () => void {
  const beat = () => redis.set(keys.nodeAlive(nodeId), '1', 'PX', NODE_HEARTBEAT_MS * 3).catch(() => {});
  void beat();
  const timer = setInterval(beat, NODE_HEARTBEAT_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    // A node that closes is gone at once: its presence entries and socket slots count no more.
    void redis.del(keys.nodeAlive(nodeId)).catch(() => {});
  };
}
