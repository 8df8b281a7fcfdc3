// The cap on one user's open sockets (SIGNET_MAX_SOCKETS_PER_USER), counted across every node in
// Redis: a hash per user, socket id → the node holding it. A closed socket gives its slot back; the
// slots of a node that died (its heartbeat key expired) are taken back when the user next needs one.
// Sockets authenticated with an API key count for the key's owner, so minting keys adds no sockets.
import type { Signet } from '../signet.js';

/** Takes a slot when fewer than the cap are held, in one step (two handshakes cannot both take the last). */
const CLAIM_LUA = `
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

/** Takes one of the user's socket slots for `socketId`; false when the user holds them all. */
export async function claimSocketSlot(signet: Signet, userId: string, socketId: string): Promise<boolean> {
  const { redis, keys, config } = signet;
  const key = keys.userSockets(userId);
  const claim = async () => (await redis.eval(CLAIM_LUA, 1, key, socketId, config.nodeId, config.SIGNET_MAX_SOCKETS_PER_USER)) === 1;
  if (await claim()) return true;
  // At the cap: forget the sockets of nodes that died, then try once more.
  const held = Object.entries(await redis.hgetall(key));
  const nodeIds = [...new Set(held.map(([, nodeId]) => nodeId))];
  const alive = nodeIds.length ? await redis.mget(...nodeIds.map(keys.nodeAlive)) : [];
  const deadNodes = new Set(nodeIds.filter((_, i) => alive[i] === null));
  const dead = held.filter(([, nodeId]) => deadNodes.has(nodeId)).map(([id]) => id);
  if (dead.length === 0) return false;
  await redis.hdel(key, ...dead);
  return claim();
}

export async function releaseSocketSlot(signet: Signet, userId: string, socketId: string): Promise<void> {
  await signet.redis.hdel(signet.keys.userSockets(userId), socketId);
}
