// A Signet node as a child process (test/helpers/signingNodeProcess.ts), for tests where a node must
// really die (SIGKILL), stop (SIGSTOP) or drain (SIGTERM), which an in-test node cannot: its JSON log
// lines are collected, and a test can wait for one.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../server/config.js';
import { ORIGIN, redisUrl } from './signet.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface NodeProcess {
  url: string;
  child: ChildProcess;
  /** Every JSON line the node logged so far. */
  logs: Array<Record<string, any>>;
  /** Resolves with the first log line (already written or to come) that `match` accepts. */
  logged(match: (line: Record<string, any>) => boolean): Promise<Record<string, any>>;
  /** Resolves when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Ends the process (SIGKILL: it may be paused); resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts a node of the installation `config` describes (prefix, master key, directories), with `env`
 * on top, on the test Redis (or `options.redisUrl`); resolves once it listens.
 */
export async function spawnNodeProcess(config: Config, env: Record<string, string> = {}, options: { redisUrl?: string } = {}): Promise<NodeProcess> {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/signingNodeProcess.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inherited,
      REDIS_URL: options.redisUrl ?? redisUrl(),
      PORT: '0',
      HOST: '127.0.0.1',
      SIGNET_PUBLIC_URL: ORIGIN,
      SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX,
      SIGNET_MASTER_KEY: config.masterKey.toString('base64'),
      SIGNET_ARTIFACT_DIR: config.artifactDir,
      SIGNET_DATA_DIR: config.SIGNET_DATA_DIR,
      SIGNET_AUDIT_CHECKPOINT_DIR: config.auditCheckpointDir,
      SIGNET_OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
      SIGNET_CERT_EXPIRY_SWEEP_MINUTES: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const logs: Array<Record<string, any>> = [];
  const waiting = new Set<{ match: (line: Record<string, any>) => boolean; resolve: (line: Record<string, any>) => void }>();
  let resolveUrl!: (url: string) => void;
  const url = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    void exited.then(({ code }) => reject(new Error(`the child node exited (${code}) before listening: ${stderr}`)));
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Record<string, any>;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof line.url === 'string' && line.msg === undefined) return resolveUrl(line.url);
    logs.push(line);
    for (const waiter of waiting) {
      if (!waiter.match(line)) continue;
      waiting.delete(waiter);
      waiter.resolve(line);
    }
  });
  return {
    url: await url,
    child,
    logs,
    logged(match) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiting.add({ match, resolve }));
    },
    exited,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
