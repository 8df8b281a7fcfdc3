// Starts a redis-server of our own: for `npm start` without REDIS_URL (data and AOF under the data
// directory, reached through a unix socket there, so the CLI finds it), and for tests (a free port).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createRedisClient } from './redis.js';

export interface LocalRedis {
  url: string;
  /** Whether this process started it (and so stops it). */
  owned: boolean;
  stop(): Promise<void>;
}

export function findRedisServer(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin'])) {
    const candidate = path.join(dir, 'redis-server');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function answersPing(url: string): Promise<boolean> {
  const client = createRedisClient(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error('redis-server exited during start-up');
    if (await answersPing(url)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server did not answer at ${url} within ${timeoutMs} ms`);
}

export interface SpawnRedisOptions {
  dir: string;
  port?: number;
  unixSocket?: string;
  appendOnly?: boolean;
}

export async function spawnRedisServer(options: SpawnRedisOptions): Promise<LocalRedis & { child: ChildProcess; port: number }> {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is not installed: run `apt-get install -y redis-server` (or set REDIS_URL)');
  mkdirSync(options.dir, { recursive: true });
  const port = options.unixSocket ? 0 : (options.port ?? (await freePort()));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', path.resolve(options.dir),
    '--save', '',
    '--appendonly', options.appendOnly ? 'yes' : 'no',
    // Every acknowledged command must survive Redis itself being killed: fsync before replying
    // (Redis batches the fsyncs of one event-loop turn, so this costs less than it sounds).
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  if (options.unixSocket) args.push('--unixsocket', options.unixSocket, '--unixsocketperm', '700');
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = options.unixSocket ? `unix://${options.unixSocket}` : `redis://127.0.0.1:${port}`;
  await waitUntilReady(url, child);
  return {
    url,
    port,
    child,
    owned: true,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The instance's own Redis for a data directory: reuses a running one (say, the server's), else starts it. */
export async function ensureLocalRedis(dataDir: string): Promise<LocalRedis> {
  const dir = path.resolve(dataDir);
  const socket = path.join(dir, 'redis.sock');
  const url = `unix://${socket}`;
  if (existsSync(socket)) {
    if (await answersPing(url)) return { url, owned: false, stop: async () => {} };
    rmSync(socket, { force: true });
  }
  return spawnRedisServer({ dir, unixSocket: socket, appendOnly: true });
}
