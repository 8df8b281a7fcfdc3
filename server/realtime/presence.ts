// Presence: who is online in the organization and on which page. Kept in Redis per socket (with the
// node that holds it), so every node sees everyone; entries of a node that died vanish with its
// heartbeat key.
import type { PresenceEntry } from '../../src/lib/shared/events.js';
import type { Signet } from '../signet.js';
import { orgRoom } from './rooms.js';

interface StoredPresence extends PresenceEntry {
  nodeId: string;
}

export const NODE_HEARTBEAT_MS = 5000;

export async function setPresence(signet: Signet, orgId: string, socketId: string, entry: PresenceEntry): Promise<void> {
  const stored: StoredPresence = { ...entry, nodeId: signet.config.nodeId };
  await signet.redis.hset(signet.keys.presence(orgId), socketId, JSON.stringify(stored));
}

export async function removePresence(signet: Signet, orgId: string, socketId: string): Promise<void> {
  await signet.redis.hdel(signet.keys.presence(orgId), socketId);
}

export async function listPresence(signet: Signet, orgId: string): Promise<PresenceEntry[]> {
  const stored = Object.entries(await signet.redis.hgetall(signet.keys.presence(orgId))).map(
    ([socketId, raw]) => [socketId, JSON.parse(raw) as StoredPresence] as const,
  );
  const nodeIds = [...new Set(stored.map(([, entry]) => entry.nodeId))];
  const alive = nodeIds.length ? await signet.redis.mget(...nodeIds.map(signet.keys.nodeAlive)) : [];
  const liveNodes = new Set(nodeIds.filter((_, i) => alive[i] !== null));
  // Connections of nodes that died (no heartbeat) are gone for good: forget them.
  const dead = stored.filter(([, entry]) => !liveNodes.has(entry.nodeId)).map(([socketId]) => socketId);
  if (dead.length) await signet.redis.hdel(signet.keys.presence(orgId), ...dead);
  // One row per user: the page of their most recent connection.
  const byUser = new Map<string, PresenceEntry>();
  for (const [, { nodeId, ...entry }] of stored) {
    if (!liveNodes.has(nodeId)) continue;
    const seen = byUser.get(entry.userId);
    if (!seen || seen.since < entry.since) byUser.set(entry.userId, entry);
  }
  return [...byUser.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export async function broadcastPresence(signet: Signet, orgId: string): Promise<PresenceEntry[]> {
  const [online, seq] = await Promise.all([listPresence(signet, orgId), signet.redis.get(signet.keys.eventSeq(orgId))]);
  signet.io?.to(orgRoom(orgId)).emit('presence', { seq: Number(seq ?? 0), online });
  return online;
}

const PRESENCE_COALESCE_MS = 250;
const pendingBroadcasts = new WeakMap<Signet, Map<string, NodeJS.Timeout>>();

/**
 * Broadcasts the organization's presence soon, once for everything that changed meanwhile: when
 * a thousand people connect at once, they get a few presence lists, not a million.
 */
export function schedulePresenceBroadcast(signet: Signet, orgId: string): void {
  let pending = pendingBroadcasts.get(signet);
  if (!pending) pendingBroadcasts.set(signet, (pending = new Map()));
  if (pending.has(orgId)) return;
  const timer = setTimeout(() => {
    pending.delete(orgId);
    if (signet.shuttingDown) return;
    broadcastPresence(signet, orgId).catch(() => {});
  }, PRESENCE_COALESCE_MS);
  timer.unref();
  pending.set(orgId, timer);
}

/** Keeps this node's heartbeat alive; returns a stop function, which ends it. */
export function startNodeHeartbeat(signet: Signet): () => void {
  const beat = () =>
    signet.redis.set(signet.keys.nodeAlive(signet.config.nodeId), '1', 'PX', NODE_HEARTBEAT_MS * 3).catch(() => {});
  void beat();
  const timer = setInterval(beat, NODE_HEARTBEAT_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    // A node that closes is gone at once: its presence entries and socket slots count no more.
    void signet.redis.del(signet.keys.nodeAlive(signet.config.nodeId)).catch(() => {});
  };
}
