// Small pieces the failover tests share: waiting for a condition with a bound that says what it
// waited for, reading which entities an organization's audit log records as created and which
// events of its stream a member may see, and making sure the processes a test starts do not
// outlive it.
import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../server/store/keys.js';
import type { Audience } from '../../server/store/commit.js';
import { audienceRoom, roomsFor } from '../../server/realtime/rooms.js';
import { permissionsOf, type Role } from '../../src/lib/shared/permissions.js';

/**
 * Polls `probe` until it gives a value other than false, null or undefined; fails after `timeoutMs`,
 * naming `what` and adding what `explain` says about the state then.
 */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | false | null | undefined> | T | false | null | undefined,
  explain?: () => unknown,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== false && value !== null && value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const state = explain ? `; ${JSON.stringify(await explain())}` : '';
      throw new Error(`${what}: not within ${timeoutMs} ms${lastError ? ` (last error: ${String(lastError)})` : ''}${state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The target ids of the organization's audit entries with this action, read from `redis` (any instance). */
export async function auditedTargets(redis: Redis, keys: RedisKeys, orgId: string, action: string): Promise<Set<string>> {
  const entries = (await redis.zrange(keys.audit(orgId), '0', '-1')).map((raw) => JSON.parse(raw) as { action: string; target: { id: string } });
  return new Set(entries.filter((entry) => entry.action === action).map((entry) => entry.target.id));
}

/** The seqs of the organization's event stream after `afterSeq` that a socket of this member may see, in order. */
export async function visibleSeqs(redis: Redis, keys: RedisKeys, orgId: string, member: { userId: string; role: Role }, afterSeq = 0): Promise<number[]> {
  const rooms = roomsFor(orgId, member.userId, new Set(permissionsOf(member.role)));
  const entries = (await redis.xrange(keys.events(orgId), `(${afterSeq}-0`, '+')) as Array<[string, string[]]>;
  const seqs: number[] = [];
  for (const [id, fields] of entries) {
    const audiences = (fields[fields.indexOf('a') + 1] ?? '').split(',') as Audience[];
    if (audiences.some((audience) => rooms.has(audienceRoom(orgId, audience)))) seqs.push(Number(id.split('-')[0]));
  }
  return seqs;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills `child` when the test process exits, should the test not have stopped it (a hook that timed out). */
export function killOnExit(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const orphan of running) orphan.kill('SIGKILL');
    });
  }
  return child;
}
