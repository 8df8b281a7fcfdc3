// Debian's haproxy on loopback in front of nodes of a test, with the configuration the compose file
// uses (deploy/haproxy.cfg): the same options (WebSocket tunnels, /readyz checks, cookie
// stickiness, redispatch), only bound to 127.0.0.1, pointing at the test's node ports instead of
// Compose's names, and with a smaller connection limit.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../server/store/localRedis.js';
import { killOnExit, until } from './failover.js';

export interface Balancer {
  url: string;
  /** What haproxy printed (its request log and state changes). */
  output(): string;
  stop(): Promise<void>;
}

/** deploy/haproxy.cfg for loopback: each change must find its line, so a reshaped file fails loudly here. */
export function loopbackConfig(deployed: string, port: number, nodePorts: number[]): string {
  const replace = (text: string, pattern: RegExp, by: string) => {
    if (!pattern.test(text)) throw new Error(`deploy/haproxy.cfg no longer has ${pattern}`);
    return text.replace(pattern, by);
  };
  let config = deployed;
  // Compose's DNS is not there; the servers are addresses.
  config = replace(config, /^resolvers docker\n(?:[ \t]+.*\n)+/m, '');
  config = replace(config, / resolvers docker init-addr \S+/, '');
  config = replace(config, /^(\s*)bind :3000$/m, `$1bind 127.0.0.1:${port}`);
  // Capacity, not behaviour: 20,000 connections need more file descriptors than a test machine lets a process have.
  config = replace(config, /^(\s*)maxconn \d+$/m, '$1maxconn 2000');
  const servers = [...config.matchAll(/^(\s*)server (signet-\d) \S+ (cookie \S+)$/gm)];
  if (servers.length !== nodePorts.length) throw new Error(`deploy/haproxy.cfg has ${servers.length} servers, the test runs ${nodePorts.length} nodes`);
  servers.forEach((server, i) => {
    config = config.replace(server[0], `${server[1]}server ${server[2]} 127.0.0.1:${nodePorts[i]} ${server[3]}`);
  });
  return config;
}

export async function startHaproxy(nodePorts: number[]): Promise<Balancer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-haproxy-'));
  const port = await freePort();
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, loopbackConfig(readFileSync('deploy/haproxy.cfg', 'utf8'), port, nodePorts));
  // -db: stay in the foreground, logging to stdout (the file's `log stdout`).
  const child: ChildProcess = killOnExit(spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until('haproxy passing requests to a node', 20_000, async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
      return fetch(`${url}/readyz`).then((response) => response.status === 200, () => false);
    });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return { url, output: () => output, stop };
}
