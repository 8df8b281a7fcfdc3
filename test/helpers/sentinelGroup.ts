// A Redis Sentinel set-up on loopback, for failover tests: a primary, a replica and three Sentinels
// (Debian's redis-server and redis-sentinel), each in a temporary directory, all with passwords.
// Instances can be killed (SIGKILL) and started again on their port and data.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { findRedisServer, freePort } from '../../server/store/localRedis.js';
import { killOnExit, until } from './failover.js';

export const MASTER_NAME = 'signet';
export const REDIS_PASSWORD = 'redis-password-for-tests';
export const SENTINEL_PASSWORD = 'sentinel-password-for-tests';
/** How long Sentinels wait before they call an unanswering primary down. */
export const DOWN_AFTER_MS = 2000;

export interface RedisInstance {
  port: number;
  dir: string;
  child: ChildProcess;
}

export interface SentinelGroup {
  /** The two data instances (the first starts as the primary). */
  instances: RedisInstance[];
  sentinels: Array<{ port: number; child: ChildProcess }>;
  /** REDIS_SENTINELS for a node or the CLI. */
  sentinelList: string;
  /** The port of the primary the Sentinels name now. */
  primaryPort(): Promise<number>;
  /** SIGKILL of one data instance; resolves once it is gone. */
  kill(instance: RedisInstance): Promise<void>;
  /** SIGSTOP of one data instance: its connections stay open and unanswered, as behind a network partition. */
  freeze(instance: RedisInstance): void;
  /** SIGCONT: a frozen instance runs again (the Sentinels turn a former primary into a replica). */
  thaw(instance: RedisInstance): void;
  /** Starts a killed instance again on its port and data; the Sentinels make it a replica of the current primary. */
  restart(instance: RedisInstance): Promise<void>;
  /** Resolves once the Sentinels name a primary other than `port` (bounded by `timeoutMs`). */
  waitForNewPrimary(port: number, timeoutMs: number): Promise<number>;
  /** Brings back what an earlier test left down (killed or frozen instances) and waits until both are in sync again. */
  heal(timeoutMs: number): Promise<void>;
  /** Resolves once the current primary has `count` replicas in sync and every Sentinel knows them and the others. */
  waitUntilReplicated(count: number, timeoutMs: number): Promise<void>;
  /** A client on one data instance (for reading what it holds), not through Sentinel. */
  client(port: number): Redis;
  stop(): Promise<void>;
}

function redisServer(): string {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is not installed: run `apt-get install -y redis-server`');
  return binary;
}

function onExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

/** One question to one server, on a connection of its own that gives up at once. */
async function ask<T>(port: number, password: string, question: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await question(client);
  } finally {
    client.disconnect();
  }
}

function startInstance(dir: string, port: number, replicaOf: number | null): ChildProcess {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'yes',
    '--appendfsync', 'always',
    '--requirepass', REDIS_PASSWORD,
    // Every instance may become a replica of another after a failover.
    '--masterauth', REDIS_PASSWORD,
    // Start a full sync at once instead of waiting for more replicas to share it.
    '--repl-diskless-sync-delay', '0',
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  if (replicaOf !== null) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  return killOnExit(spawn(redisServer(), args, { stdio: ['ignore', 'ignore', 'inherit'] }));
}

function startSentinel(dir: string, port: number, primaryPort: number): ChildProcess {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'sentinel.conf');
  // Sentinel rewrites its file as it learns the set-up, so each has a file of its own.
  writeFileSync(
    file,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      'daemonize no',
      'loglevel warning',
      'logfile ""',
      `requirepass ${SENTINEL_PASSWORD}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
      `sentinel auth-pass ${MASTER_NAME} ${REDIS_PASSWORD}`,
      `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${MASTER_NAME} 10000`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  return killOnExit(spawn(redisServer(), [file, '--sentinel'], { stdio: ['ignore', 'ignore', 'inherit'] }));
}

export async function startSentinelGroup(): Promise<SentinelGroup> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'signet-sentinel-'));
  const instances: RedisInstance[] = [];
  for (const name of ['a', 'b']) {
    const dir = path.join(root, name);
    mkdirSync(dir);
    const port = await freePort();
    instances.push({ port, dir, child: startInstance(dir, port, instances[0]?.port ?? null) });
  }
  const sentinels: SentinelGroup['sentinels'] = [];
  for (const name of ['s1', 's2', 's3']) {
    const port = await freePort();
    sentinels.push({ port, child: startSentinel(path.join(root, name), port, instances[0]!.port) });
  }

  const askSentinel = <T>(port: number, question: (client: Redis) => Promise<T>) => ask(port, SENTINEL_PASSWORD, question);
  const primaryPort = async () => {
    for (const sentinel of sentinels) {
      if (sentinel.child.exitCode !== null) continue;
      const address = await askSentinel(sentinel.port, (client) => client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)).catch(() => null);
      if (Array.isArray(address)) return Number(address[1]);
    }
    throw new Error('no Sentinel names a primary');
  };

  const group: SentinelGroup = {
    instances,
    sentinels,
    sentinelList: sentinels.map(({ port }) => `127.0.0.1:${port}`).join(','),
    primaryPort,
    async kill(instance) {
      const gone = onExit(instance.child);
      instance.child.kill('SIGKILL');
      await gone;
    },
    freeze(instance) {
      instance.child.kill('SIGSTOP');
    },
    thaw(instance) {
      instance.child.kill('SIGCONT');
    },
    async restart(instance) {
      // Started as it was left (no replicaof): the Sentinels see a primary that is not theirs and
      // turn it into a replica of the current one.
      instance.child = startInstance(instance.dir, instance.port, null);
      await until(`redis on ${instance.port} answering`, 15_000, () => ask(instance.port, REDIS_PASSWORD, (client) => client.ping()).catch(() => null));
    },
    waitForNewPrimary(port, timeoutMs) {
      return until(`a primary other than ${port}`, timeoutMs, async () => {
        const now = await primaryPort();
        if (now === port) return null;
        // Promoted, not only named: it answers as a primary.
        const role = await ask(now, REDIS_PASSWORD, (client) => client.call('ROLE'));
        return Array.isArray(role) && role[0] === 'master' ? now : null;
      });
    },
    async heal(timeoutMs) {
      for (const instance of instances) {
        if (instance.child.exitCode !== null || instance.child.signalCode !== null) await group.restart(instance);
        else instance.child.kill('SIGCONT');
      }
      await group.waitUntilReplicated(instances.length - 1, timeoutMs);
    },
    async waitUntilReplicated(count, timeoutMs) {
      await until(`${count} replica(s) in sync and known to every Sentinel`, timeoutMs, async () => {
        const primary = await primaryPort();
        const info = await ask(primary, REDIS_PASSWORD, (client) => client.info('replication'));
        const online = info.split('\n').filter((line) => /^slave\d+:.*state=online/.test(line)).length;
        if (online < count) return null;
        for (const sentinel of sentinels) {
          const ready = await askSentinel(sentinel.port, async (client) => {
            const replicas = (await client.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as string[][];
            const healthy = replicas.filter((fields) => {
              const flags = fields[fields.indexOf('flags') + 1] ?? '';
              return !/s_down|o_down|disconnected/.test(flags);
            });
            const others = (await client.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
            const quorum = await client.call('SENTINEL', 'CKQUORUM', MASTER_NAME);
            return healthy.length >= count && others.length === sentinels.length - 1 && String(quorum).startsWith('OK');
          });
          if (!ready) return null;
        }
        return true;
      });
    },
    client(port) {
      const client = new Redis({ host: '127.0.0.1', port, password: REDIS_PASSWORD, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000 });
      client.on('error', () => {});
      return client;
    },
    async stop() {
      const children = [...sentinels.map(({ child }) => child), ...instances.map(({ child }) => child)];
      await Promise.all(
        children.map((child) => {
          const gone = onExit(child);
          child.kill('SIGKILL');
          return gone;
        }),
      );
      rmSync(root, { recursive: true, force: true });
    },
  };
  await until('the primary answering', 15_000, () => ask(instances[0]!.port, REDIS_PASSWORD, (client) => client.ping()).catch(() => null));
  return group;
}
