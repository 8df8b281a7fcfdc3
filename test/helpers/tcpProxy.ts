// A TCP proxy on loopback between a node and its Redis, to act at an exact point of the
// conversation: `when(needle, action)` runs `action` once, right before the first chunk the node
// sends that holds `needle` is passed on (say, the SHA of the commit script: "Redis freezes just as
// the commit is sent"). Between a client and a node, `pause()` and `resume()` take the network down
// and bring it back.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** What a node sends to run the commit script: EVALSHA with the script's SHA-1 (ioredis' defineCommand). */
export const COMMIT_SCRIPT_SHA = createHash('sha1').update(readFileSync(new URL('../../server/store/commit.lua', import.meta.url), 'utf8')).digest('hex');

export interface TcpProxy {
  url: string;
  /** The proxy's port on 127.0.0.1. */
  port: number;
  when(needle: string, action: () => void): void;
  /** Cuts every connection through it; new ones are held, unanswered, until resume(). */
  pause(): void;
  /** Resolves when a connection is held (someone is trying to get through while paused). */
  nextHeld(): Promise<void>;
  /** Passes the held connections on, and new ones from now. */
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let trigger: { needle: Buffer; action: () => void } | null = null;
  const connections = new Set<net.Socket>();
  let held: net.Socket[] | null = null;
  let heldWaiters: Array<() => void> = [];
  const pass = (client: net.Socket) => {
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      connections.add(socket);
      socket.on('close', () => connections.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      if (trigger && chunk.includes(trigger.needle)) {
        const { action } = trigger;
        trigger = null;
        action();
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  const server = net.createServer((client) => {
    if (held === null) return pass(client);
    // Unread until resume(): what the client sent waits in the socket.
    client.pause();
    client.on('error', () => client.destroy());
    held.push(client);
    for (const wake of heldWaiters) wake();
    heldWaiters = [];
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    when(needle, action) {
      trigger = { needle: Buffer.from(needle), action };
    },
    pause() {
      held ??= [];
      for (const socket of connections) socket.destroy();
    },
    nextHeld() {
      return new Promise((resolve) => heldWaiters.push(resolve));
    },
    resume() {
      const waiting = held ?? [];
      held = null;
      for (const client of waiting) {
        if (client.destroyed) continue;
        pass(client);
        client.resume();
      }
    },
    async close() {
      for (const socket of [...connections, ...(held ?? [])]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
