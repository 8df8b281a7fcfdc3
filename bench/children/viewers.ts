// A load-generator process holding a share of the fan-out viewers, so receiving a broadcast is
// spread over several event loops instead of one (a single client process would measure its own
// queue). It connects the viewers it is told to, records each measured audit entry's delivery
// latency (receipt − the entry's `time`, same machine clock) and hands the samples back over IPC.
import { closeAll, connectMany, openSocket, waitForQuiet, whenReady, type BenchSocket, type ConnectOptions } from '../lib/clients.js';
import { serveIpc } from './ipc.js';

interface ViewerSpec {
  url: string;
  options: ConnectOptions;
  /** Which server node the viewer is on, for per-node figures. */
  node: number;
}

interface AuditPayload {
  entry: { time: string; changes?: { name?: { after?: string } } };
}

interface Side {
  sockets: BenchSocket[];
  /** Events received by name (all of them, measured or not). */
  counts: Record<string, number>;
  nodes: number[];
  samples: number[][];
  delivered: number;
  prefix: string | null;
}

const sides = new Map<string, Side>();

function sideOf(name: string): Side {
  let side = sides.get(name);
  if (!side) {
    side = { sockets: [], nodes: [], samples: [], delivered: 0, prefix: null, counts: {} };
    sides.set(name, side);
  }
  return side;
}

serveIpc(
  {
    async connect(message) {
      const side = sideOf(message.side as string);
      const specs = message.viewers as ViewerSpec[];
      const startedAt = Date.now();
      const sockets = await connectMany(specs.length, Number(message.concurrency ?? 25), (i) => {
        const socket = openSocket(specs[i]!.url, specs[i]!.options);
        // Counted from the start: what connecting costs the others shows here (presence broadcasts).
        socket.onAny((event: string) => (side.counts[event] = (side.counts[event] ?? 0) + 1));
        return whenReady(socket, 60_000);
      });
      sockets.forEach((socket, i) => {
        const node = specs[i]!.node;
        side.sockets.push(socket);
        side.nodes.push(node);
        socket.on('audit', (payload: AuditPayload) => {
          const receivedAt = Date.now();
          if (!side.prefix || !payload.entry.changes?.name?.after?.startsWith(side.prefix)) return;
          side.delivered += 1;
          (side.samples[node] ??= []).push(receivedAt - Date.parse(payload.entry.time));
        });
      });
      return { connectMs: Date.now() - startedAt };
    },
    waitQuiet: (message) => waitForQuiet(sideOf(message.side as string).sockets, Number(message.quietMs), Number(message.maxMs)),
    /** From now on, audit entries whose new name starts with `prefix` are measured. */
    record(message) {
      const side = sideOf(message.side as string);
      side.prefix = message.prefix as string;
      side.samples = [];
      side.delivered = 0;
      return true;
    },
    delivered: (message) => sideOf(message.side as string).delivered,
    /** Events received by name since the last call. */
    counts(message) {
      const side = sideOf(message.side as string);
      const counts = side.counts;
      side.counts = {};
      return counts;
    },
    /** The samples per node, as Float64Arrays (structured clone). */
    collect: (message) => sideOf(message.side as string).samples.map((samples) => Float64Array.from(samples ?? [])),
    close(message) {
      const side = sideOf(message.side as string);
      closeAll(side.sockets);
      side.sockets = [];
      return true;
    },
  },
  'viewers',
);

process.once('SIGTERM', () => {
  for (const side of sides.values()) closeAll(side.sockets);
  process.exit(0);
});
