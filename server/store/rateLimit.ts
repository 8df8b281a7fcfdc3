// The rate limit per actor (an API key, or a signed-in user): SIGNET_RATE_LIMIT_PER_MINUTE actions
// a minute, counted in Redis so that the budget does not grow with the number of nodes. A command
// counts in the same Lua call that reads its actor (one round trip for both), and so do a
// connection's handshake and a REST request. In front of the shared count, this node refuses from its memory alone: a burst
// (SIGNET_RATE_LIMIT_BURST in 10 s, which only refuses: what it lets through still counts in
// Redis), and an actor Redis refused this window, until the window ends.
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { RedisKeys } from './keys.js';
import type { ActorPrincipal } from './actorRecords.js';
import { rateLimited } from '../errors.js';

/** The budget's window. */
const WINDOW_MS = 60_000;
/** The burst's window. */
const BURST_WINDOW_MS = 10_000;

// Counts one action in the actor's window (its counter expires with the window) and reads the
// records named after the counter, if any, in the same call. Time stands still inside a script,
// so the counter cannot expire between INCR and PTTL.
//   KEYS[1]: the counter; KEYS[2..]: records to read. ARGV[1]: the window (ms).
//   Returns {count so far, ms left in the window, the records…}.
const COUNT_AND_READ_LUA = `local consumed = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local reply = {consumed, ttl}
if #KEYS > 1 then
  local records = redis.call('MGET', unpack(KEYS, 2))
  for i = 1, #records do reply[i + 2] = records[i] end
end
return reply`;

type CountingClient = Redis & { signetCountAndRead(keyCount: number, ...keysAndWindow: string[]): Promise<[number, number, ...Array<string | null>]> };

/** Whose budget an action counts against: an API key's own, or the signed-in user's. */
export function budgetKey(principal: ActorPrincipal): string {
  return principal.kind === 'apiKey' ? `key:${principal.keyId}` : `user:${principal.userId}`;
}

/** What the shared count said of one action. */
export interface Counted {
  /** The records read with the count, in the order asked for. */
  records: Array<string | null>;
  /** RATE_LIMITED when the action is over the budget (else null). */
  refusal: ReturnType<typeof rateLimited> | null;
  /** This action is the first over the budget in its window, on any node: the one to audit. */
  crossed: boolean;
}

export interface ActorBudgets {
  readonly points: number;
  /** Throws RATE_LIMITED, from memory alone, for a burst or an actor Redis refused this window. */
  refuseFromMemory(key: string): void;
  /** Throws RATE_LIMITED when Redis refused the actor this window (checked again once a command has its place). */
  refuseIfBlocked(key: string): void;
  /** Counts one action in Redis and reads `records` in the same call. */
  count(key: string, records?: readonly string[]): Promise<Counted>;
}

export function createActorBudgets(redis: Redis, counterPrefix: string, points: number, burstPoints: number): ActorBudgets {
  if (!('signetCountAndRead' in redis)) redis.defineCommand('signetCountAndRead', { lua: COUNT_AND_READ_LUA });
  const client = redis as CountingClient;
  const window = String(WINDOW_MS);
  // Each actor's burst window on this node: how many actions since it began, and when it ends.
  const bursts = new Map<string, { count: number; endsAt: number }>();
  // Actors Redis refused, until their window ends.
  const blocked = new Map<string, number>();
  // Windows that ended are swept now and then, so neither map grows with actors long gone.
  let sweepAt = 0;
  function sweep(now: number): void {
    if (now < sweepAt) return;
    sweepAt = now + BURST_WINDOW_MS;
    for (const [key, window] of bursts) if (window.endsAt <= now) bursts.delete(key);
    for (const [key, until] of blocked) if (until <= now) blocked.delete(key);
  }

  function refuseIfBlocked(key: string): void {
    const until = blocked.get(key);
    if (until === undefined) return;
    const left = until - Date.now();
    if (left <= 0) {
      blocked.delete(key);
      return;
    }
    throw rateLimited(`Too many commands; try again in ${Math.ceil(left / 1000)} s`, left);
  }

  function refuseBurst(key: string): void {
    const now = Date.now();
    sweep(now);
    let window = bursts.get(key);
    if (!window || window.endsAt <= now) bursts.set(key, (window = { count: 0, endsAt: now + BURST_WINDOW_MS }));
    if (window.count >= burstPoints) {
      const left = window.endsAt - now;
      throw rateLimited(`Too many commands at once; try again in ${Math.ceil(left / 1000)} s`, left);
    }
    window.count += 1;
  }

  return {
    points,
    refuseFromMemory(key) {
      refuseBurst(key);
      refuseIfBlocked(key);
    },
    refuseIfBlocked,
    async count(key, records = []) {
      const [consumed, ttl, ...read] = await client.signetCountAndRead(1 + records.length, `${counterPrefix}:${key}`, ...records, window);
      if (consumed <= points) return { records: read, refusal: null, crossed: false };
      blocked.set(key, Date.now() + ttl);
      const refusal = rateLimited(`Too many commands; try again in ${Math.ceil(ttl / 1000)} s`, ttl);
      return { records: read, refusal, crossed: consumed === points + 1 };
    },
  };
}

/**
 * The rate limits as one module of the store: the actors' command budgets, and counters of failed
 * sign-ins (rate-limiter-flexible's, per `name`: `login` per account and address, `login-address`
 * per address), all kept under the installation's rate-limit prefix and shared by every node.
 */
export function rateLimitStore(redis: Redis, keys: RedisKeys) {
  return {
    actorBudgets: (points: number, burstPoints: number): ActorBudgets => createActorBudgets(redis, keys.rateLimit, points, burstPoints),
    failureCounter: (name: string, points: number, durationSeconds: number): RateLimiterRedis =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keys.rateLimit}:${name}`, points, duration: durationSeconds, rejectIfRedisNotReady: true }),
  };
}
