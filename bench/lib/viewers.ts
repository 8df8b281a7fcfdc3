// Fan-out viewers spread over several load-generator processes (bench/children/viewers.ts), each
// holding every n-th viewer: delivering one entry to 1,000 sockets then costs each client event
// loop only its share, so the measured latency is the servers', not one client's queue.
import os from 'node:os';
import type { ConnectOptions } from './clients.js';
import { startServerProcess, type ServerProcess } from './processes.js';

export interface ViewerSpec {
  url: string;
  options: ConnectOptions;
  node: number;
}

export class ViewerPool {
  private constructor(private readonly processes: ServerProcess[]) {}

  /** One process per CPU, at least 2 and at most 4. */
  static async start(size = Math.min(4, Math.max(2, os.cpus().length))): Promise<ViewerPool> {
    const processes = await Promise.all(
      Array.from({ length: size }, (_, index) => startServerProcess({ name: `viewers-${index}`, script: 'viewers.ts', env: {} })),
    );
    return new ViewerPool(processes);
  }

  get size(): number {
    return this.processes.length;
  }

  /** Connects the viewers (every n-th to process n), `concurrency` handshakes at a time in all. */
  async connect(side: string, specs: ViewerSpec[], concurrency: number, onProgress?: (done: number) => void): Promise<number> {
    const startedAt = Date.now();
    let done = 0;
    await Promise.all(
      this.processes.map(async (process, index) => {
        const share = specs.filter((_, i) => i % this.processes.length === index);
        await process.request(
          'connect',
          { side, viewers: share, concurrency: Math.max(1, Math.ceil(concurrency / this.processes.length)) },
          180_000,
        );
        done += share.length;
        onProgress?.(done);
      }),
    );
    return Date.now() - startedAt;
  }

  async waitQuiet(side: string, quietMs: number, maxMs: number): Promise<number> {
    const waited = await Promise.all(this.processes.map((process) => process.request<number>('waitQuiet', { side, quietMs, maxMs }, maxMs + 10_000)));
    return Math.max(...waited);
  }

  async record(side: string, prefix: string): Promise<void> {
    await Promise.all(this.processes.map((process) => process.request('record', { side, prefix })));
  }

  /** Events the side's viewers received, by name, since the last call. */
  async counts(side: string): Promise<Record<string, number>> {
    const all = await Promise.all(this.processes.map((process) => process.request<Record<string, number>>('counts', { side })));
    const total: Record<string, number> = {};
    for (const counts of all) for (const [event, count] of Object.entries(counts)) total[event] = (total[event] ?? 0) + count;
    return total;
  }

  async delivered(side: string): Promise<number> {
    const counts = await Promise.all(this.processes.map((process) => process.request<number>('delivered', { side })));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Every sample, and the samples per server node. */
  async collect(side: string): Promise<{ all: Float64Array; byNode: Float64Array[] }> {
    const perProcess = await Promise.all(this.processes.map((process) => process.request<Float64Array[]>('collect', { side }, 60_000)));
    const nodes = Math.max(0, ...perProcess.map((list) => list.length));
    const byNode = Array.from({ length: nodes }, (_, node) => {
      const parts = perProcess.map((list) => list[node] ?? new Float64Array(0));
      const merged = new Float64Array(parts.reduce((sum, part) => sum + part.length, 0));
      let at = 0;
      for (const part of parts) {
        merged.set(part, at);
        at += part.length;
      }
      return merged;
    });
    const all = new Float64Array(byNode.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of byNode) {
      all.set(part, at);
      at += part.length;
    }
    return { all, byNode };
  }

  async close(side: string): Promise<void> {
    await Promise.all(this.processes.map((process) => process.request('close', { side }).catch(() => {})));
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((process) => process.stop(5000)));
  }
}
