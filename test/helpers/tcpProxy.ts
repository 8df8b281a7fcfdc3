// A TCP proxy on loopback between a node and its Redis, to act at an exact point of the
// conversation: `when(needle, action)` runs `action` once, right before the first chunk the node
// sends that holds `needle` is passed on (say, the SHA of the commit script: "Redis freezes just as
// the commit is sent").
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** What a node sends to run the commit script: EVALSHA with the script's SHA-1 (ioredis' defineCommand). */
export const COMMIT_SCRIPT_SHA = createHash('sha1').update(readFileSync(new URL('../../server/store/commit.lua', import.meta.url), 'utf8')).digest('hex');

export interface TcpProxy {
  url: string;
  when(needle: string, action: () => void): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let trigger: { needle: Buffer; action: () => void } | null = null;
  const connections = new Set<net.Socket>();
  const server = net.createServer((client) => {
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
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    when(needle, action) {
      trigger = { needle: Buffer.from(needle), action };
    },
    async close() {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
