// Redis round trips per operation: INFO commandstats before and after, divided by the operations.
import type { Redis } from 'ioredis';

export interface CommandCount {
  calls: number;
  /** Time Redis spent running them (a script's includes the commands it called, counted again under their own names). */
  usec: number;
}

export async function commandCalls(redis: Redis): Promise<Map<string, CommandCount>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, CommandCount>();
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (match) calls.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return calls;
}

/**
 * Calls per operation by command (those above 0.01), and their total, between two snapshots; and
 * the microseconds Redis spent per operation in each (those of at least 0.1 µs).
 */
export function callsPer(before: Map<string, CommandCount>, after: Map<string, CommandCount>, operations: number) {
  const perCommand: Record<string, number> = {};
  const microsPerCommand: Record<string, number> = {};
  let total = 0;
  const per = (value: number) => value / Math.max(1, operations);
  for (const [name, count] of after) {
    const delta = count.calls - (before.get(name)?.calls ?? 0);
    // The bench's own INFO calls are not the server's.
    if (delta <= 0 || name === 'info') continue;
    total += delta;
    if (per(delta) >= 0.01) perCommand[name] = Math.round(per(delta) * 100) / 100;
    const usec = per(count.usec - (before.get(name)?.usec ?? 0));
    if (usec >= 0.1) microsPerCommand[name] = Math.round(usec * 10) / 10;
  }
  return { total: Math.round(per(total) * 100) / 100, perCommand, microsPerCommand };
}

/** Seconds of CPU the Redis server has used (user + system, main thread and children). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  let total = 0;
  for (const line of info.split('\n')) {
    const match = /^used_cpu_(sys|user):([\d.]+)/.exec(line.trim());
    if (match) total += Number(match[2]);
  }
  return total;
}

/** Starts Redis's latency monitor afresh: events (fsyncs, commands, …) of at least `thresholdMs` are kept. */
export async function resetLatencyMonitor(redis: Redis, thresholdMs = 1): Promise<void> {
  await redis.config('SET', 'latency-monitor-threshold', String(thresholdMs));
  await redis.call('LATENCY', 'RESET');
}

/**
 * What Redis's latency monitor saw since the reset, per event (e.g. `aof-fsync-always`, `command`):
 * how many of its (at most 160, one per second) samples there are, their median and the maximum.
 */
export async function latencyEvents(redis: Redis): Promise<Record<string, { samples: number; medianMs: number; maxMs: number }>> {
  const latest = (await redis.call('LATENCY', 'LATEST')) as Array<[string, number, number, number]>;
  const events: Record<string, { samples: number; medianMs: number; maxMs: number }> = {};
  for (const [event, , , max] of latest) {
    const history = (await redis.call('LATENCY', 'HISTORY', event)) as Array<[number, number]>;
    const values = history.map(([, ms]) => ms).sort((a, b) => a - b);
    events[event] = { samples: values.length, medianMs: values[Math.floor(values.length / 2)] ?? 0, maxMs: max };
  }
  return events;
}
