// Server processes for the bench: Signet nodes and the bare Socket.IO baseline run in children of
// their own, so the load generator (this process) never shares their event loop. They talk to
// this process over IPC: `listening` once up, then request/reply messages (memory after GC, event
// loop utilization, configuration of the baseline).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { withTimeout } from './stats.js';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT_DIR = path.resolve(BENCH_DIR, '..');

export interface MemoryUsage {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Used bytes per V8 heap space (new_space, old_space, code_space, large_object_space, …). */
  spaces: Record<string, number>;
}

export interface ServerProcess {
  name: string;
  /** The server's URL (what a non-server child reported instead, e.g. its role). */
  url: string;
  port: number;
  child: ChildProcess;
  /** Sends one request over IPC and resolves with the child's reply. */
  request<T = unknown>(type: string, body?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** The child's last output lines, for error reports. */
  output(): string;
  /** SIGTERM (a clean close, which also writes a --cpu-prof profile), then SIGKILL after a grace period. */
  stop(graceMs?: number): Promise<void>;
}

interface Reply {
  id?: number;
  type?: string;
  url?: string;
  result?: unknown;
  error?: string;
}

const live = new Set<ChildProcess>();
// Whatever happens to the bench, its children do not outlive it.
process.once('exit', () => killAllServers());

/** Kills every server process still running (a scenario that ran out of time). */
export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
}

export interface StartOptions {
  name: string;
  /** Script under bench/children/. */
  script: string;
  env: Record<string, string>;
  /** Extra node flags (--expose-gc, --cpu-prof …). */
  nodeFlags?: string[];
  startTimeoutMs?: number;
}

export async function startServerProcess(options: StartOptions): Promise<ServerProcess> {
  const scriptPath = path.join(BENCH_DIR, 'children', options.script);
  const child = fork(scriptPath, [], {
    cwd: ROOT_DIR,
    execArgv: ['--import', 'tsx', ...(options.nodeFlags ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Structured clone over IPC: typed arrays of samples travel as such.
    serialization: 'advanced',
  });
  live.add(child);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      lines.push(line.slice(0, 2000));
      if (lines.length > 200) lines.shift();
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      live.delete(child);
      for (const { reject } of pending.values()) reject(new Error(`${options.name} exited (${code ?? signal})`));
      pending.clear();
      resolve();
    });
  });

  const listening = new Promise<string>((resolve, reject) => {
    child.on('message', (message: Reply) => {
      if (message.type === 'listening' && message.url) return resolve(message.url);
      if (message.id === undefined) return;
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.error) waiter.reject(new Error(`${options.name}: ${message.error}`));
      else waiter.resolve(message.result);
    });
    void exitPromise.then(() => reject(new Error(`${options.name} exited during start-up:\n${lines.slice(-30).join('\n')}`)));
  });
  const url = await withTimeout(listening, options.startTimeoutMs ?? 30_000, `starting ${options.name}`).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });

  return {
    name: options.name,
    url,
    port: URL.canParse(url) ? Number(new URL(url).port) : 0,
    child,
    output: () => lines.join('\n'),
    request<T>(type: string, body: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
      if (exited) return Promise.reject(new Error(`${options.name} is not running`));
      const id = nextId++;
      const reply = new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, type, ...body });
      });
      return withTimeout(reply, timeoutMs, `${options.name} ${type}`).finally(() => pending.delete(id));
    },
    async stop(graceMs = 20_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}
