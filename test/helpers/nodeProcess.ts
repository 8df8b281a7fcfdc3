// A Signet node as a child process (test/helpers/signingNodeProcess.ts), for tests where a node must
// really die (SIGKILL) or stop (SIGSTOP), which an in-test node cannot.
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
  /** Resolves when the process ends. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Ends the process (SIGKILL: it may be paused); resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts a node on the test Redis with `config`'s prefix, master key and directories (plus `env`);
 * resolves once it listens.
 */
export async function spawnNodeProcess(config: Config, env: Record<string, string> = {}): Promise<NodeProcess> {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/signingNodeProcess.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inherited,
      REDIS_URL: redisUrl(),
      PORT: '0',
      HOST: '127.0.0.1',
      SIGNET_PUBLIC_URL: ORIGIN,
      SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX,
      SIGNET_MASTER_KEY: config.masterKey.toString('base64'),
      SIGNET_ARTIFACT_DIR: config.artifactDir,
      SIGNET_DATA_DIR: config.SIGNET_DATA_DIR,
      SIGNET_OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
      LOG_LEVEL: 'silent',
      ...env,
    },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).url));
    void exited.then(({ code }) => reject(new Error(`the node process exited (${code}) before listening: ${stderr}`)));
  });
  return {
    url,
    child,
    exited,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
