// The child side of the bench's IPC: answers requests by type, reports `listening`, and exits when
// the bench (its parent) goes away, so no server outlives a run.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

type Handler = (message: Record<string, unknown>) => unknown | Promise<unknown>;

declare const gc: (() => void) | undefined;

let eluMark: EventLoopUtilization = performance.eventLoopUtilization();
let cpuMark = process.cpuUsage();
let wallMark = performance.now();

/**
 * The measured windows (markLoad → load), in microseconds of the monotonic clock V8's CPU profiler
 * stamps its samples with: a profile summary can then leave out start-up and set-up.
 */
const windows: Array<{ label: string; start: number; end: number | null }> = [];
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const profileDir = process.execArgv.find((arg) => arg.startsWith('--cpu-prof-dir='))?.slice('--cpu-prof-dir='.length);
if (profileDir) {
  process.on('exit', () => {
    const closed = windows.map((window) => ({ ...window, end: window.end ?? nowUs() }));
    mkdirSync(profileDir, { recursive: true });
    writeFileSync(path.join(profileDir, 'windows.json'), JSON.stringify(closed));
  });
}

/** Memory after full garbage collections (needs --expose-gc). */
async function memoryAfterGc() {
  if (typeof gc !== 'function') throw new Error('start the child with --expose-gc');
  for (let i = 0; i < 3; i += 1) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const usage = process.memoryUsage();
  // Per V8 space: code_space grows with what got compiled, not with what is held per connection.
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((space) => [space.space_name, space.space_used_size]));
  return { rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers, spaces };
}

const common: Record<string, Handler> = {
  memory: () => memoryAfterGc(),
  /** A heap snapshot after full collections, written to `file`. */
  heapSnapshot: async (message) => {
    await memoryAfterGc();
    return v8.writeHeapSnapshot(String(message.file));
  },
  /** Starts a measurement window for `load` (labelled, for profile summaries). */
  markLoad: (message) => {
    windows.push({ label: typeof message.label === 'string' ? message.label : 'measured', start: nowUs(), end: null });
    eluMark = performance.eventLoopUtilization();
    cpuMark = process.cpuUsage();
    wallMark = performance.now();
    return true;
  },
  /** Event loop utilization and CPU use (of one core) since `markLoad`. */
  load: () => {
    const open = windows[windows.length - 1];
    if (open && open.end === null) open.end = nowUs();
    const elu = performance.eventLoopUtilization(eluMark);
    const cpu = process.cpuUsage(cpuMark);
    const wallMs = performance.now() - wallMark;
    return { eventLoopUtilization: elu.utilization, cpuCores: (cpu.user + cpu.system) / 1000 / wallMs };
  },
};

export function serveIpc(handlers: Record<string, Handler>, url: string): void {
  const all = { ...common, ...handlers };
  process.on('message', (message: { id: number; type: string } & Record<string, unknown>) => {
    const handler = all[message.type];
    if (!handler) {
      process.send?.({ id: message.id, error: `unknown request ${message.type}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message))
      .then(
        (result) => process.send?.({ id: message.id, result }),
        (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'listening', url });
}
