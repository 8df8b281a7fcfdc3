// Small pieces the failover tests share: waiting for a condition with a bound that says what it
// waited for, and reading which entities an organization's audit log records as created.
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../server/store/keys.js';

/** Polls `probe` until it gives a value other than false, null or undefined; fails after `timeoutMs`, naming `what`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | false | null | undefined> | T | false | null | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== false && value !== null && value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The target ids of the organization's audit entries with this action, read from `redis` (any instance). */
export async function auditedTargets(redis: Redis, keys: RedisKeys, orgId: string, action: string): Promise<Set<string>> {
  const entries = (await redis.zrange(keys.audit(orgId), '0', '-1')).map((raw) => JSON.parse(raw) as { action: string; target: { id: string } });
  return new Set(entries.filter((entry) => entry.action === action).map((entry) => entry.target.id));
}
