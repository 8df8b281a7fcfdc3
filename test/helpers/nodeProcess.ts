// A Signet node in a child process (test/helpers/signingNodeProcess.ts), for tests in which a node
// must die for real (SIGKILL) or be reached only over the network.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Config } from '../../server/config.js';
import { ORIGIN } from './signet.js';
import { killOnExit } from './failover.js';

export interface NodeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** What it wrote (its log lines and stderr), for failure messages. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** The environment that makes a child node part of the installation `config` describes. */
export function nodeEnvironment(config: Config, extra: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _inheritedByVitest, ...inherited } = process.env;
  return {
    ...inherited,
    PORT: '0',
    HOST: '127.0.0.1',
    SIGNET_PUBLIC_URL: ORIGIN,
    SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX,
    SIGNET_MASTER_KEY: config.masterKey.toString('base64'),
    SIGNET_ARTIFACT_DIR: config.artifactDir,
    SIGNET_DATA_DIR: config.SIGNET_DATA_DIR,
    SIGNET_AUDIT_CHECKPOINT_DIR: config.auditCheckpointDir,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Starts the node; resolves once it listens (it prints its URL). */
export async function startNodeProcess(env: NodeJS.ProcessEnv): Promise<NodeProcess> {
  const child = killOnExit(spawn(process.execPath, ['--import', 'tsx', 'test/helpers/signingNodeProcess.ts'], { stdio: ['ignore', 'pipe', 'pipe'], env }));
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output += `${line}\n`;
      try {
        const printed = JSON.parse(line) as { url?: string };
        if (printed.url) resolve(printed.url);
      } catch {
        // Not the line with the URL.
      }
    });
    void exited.then((code) => reject(new Error(`the node exited (${code}) before listening: ${output}`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    output: () => output,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await gone;
    },
  };
}
