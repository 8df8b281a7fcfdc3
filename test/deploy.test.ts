// The deployment files: docker-compose.yml (Redis with its append-only file on a volume, three app
// nodes, HAProxy in front), deploy/haproxy.cfg (checked by Debian's haproxy) and the Dockerfile.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const env = { ...process.env, SIGNET_MASTER_KEY: randomBytes(32).toString('base64') };
const NODES = ['signet-1', 'signet-2', 'signet-3'];

describe('docker-compose.yml', () => {
  it('is accepted by `docker-compose config`', async () => {
    await expect(exec('docker-compose', ['config', '-q'], { env })).resolves.toBeDefined();
  });

  it('runs Redis with AOF (fsync always) on a volume, three Signet nodes on it, and HAProxy in front', async () => {
    const { stdout: services } = await exec('docker-compose', ['config', '--services'], { env });
    expect(services.trim().split('\n').sort()).toEqual(['haproxy', 'redis', ...NODES]);
    const { stdout } = await exec('docker-compose', ['config'], { env });
    expect(stdout).toMatch(/- --appendonly\n\s*- "yes"\n\s*- --appendfsync\n\s*- always/);
    expect(stdout).toMatch(/redis-data:\/data/);
    expect(stdout.match(/REDIS_URL: redis:\/\/redis:6379/g)).toHaveLength(3);
    // One master key and one artifact volume for all nodes; each node its own id.
    expect(stdout.match(new RegExp(`SIGNET_MASTER_KEY: ${env.SIGNET_MASTER_KEY.replace(/[+/]/g, '\\$&')}`, 'g'))).toHaveLength(3);
    expect(stdout.match(/- artifacts:\/artifacts/g)).toHaveLength(3);
    for (const node of NODES) expect(stdout).toContain(`SIGNET_NODE_ID: ${node}`);
    // Only the balancer is published; it reads the configuration checked below.
    expect(stdout.match(/published: /g)).toHaveLength(1);
    expect(stdout).toMatch(/deploy\/haproxy\.cfg:\/usr\/local\/etc\/haproxy\/haproxy\.cfg:ro/);
  });

  it('refuses to start without a master key', async () => {
    const { SIGNET_MASTER_KEY: _unset, ...withoutKey } = env;
    const failure = await exec('docker-compose', ['config', '-q'], { env: withoutKey }).catch((error) => error);
    expect(failure.stderr).toMatch(/SIGNET_MASTER_KEY/);
  });
});

describe('deploy/haproxy.cfg', () => {
  const config = readFileSync('deploy/haproxy.cfg', 'utf8');

  it('is valid for `haproxy -c` (the node names resolve only inside Compose, which it tolerates)', async () => {
    const { stdout, stderr } = await exec('haproxy', ['-c', '-f', 'deploy/haproxy.cfg']);
    expect(stdout).toMatch(/Configuration file is valid/);
    const warnings = stderr.split('\n').filter((line) => line.includes('[WARNING]'));
    expect(warnings.every((line) => /could not resolve address 'signet-\d'/.test(line))).toBe(true);
  });

  it('balances over the three nodes, checks /readyz, keeps long-polling clients on their node, and lets WebSockets live', () => {
    for (const node of NODES) expect(config).toMatch(new RegExp(`^\\s*server ${node} ${node}:3000 cookie ${node}$`, 'm'));
    expect(config).toMatch(/option httpchk GET \/readyz/);
    expect(config).toMatch(/cookie signet_node insert indirect nocache/);
    expect(config).toMatch(/option redispatch/);
    expect(config).toMatch(/timeout tunnel 1h/);
  });

  it('the same check refuses the file with one keyword misspelt (so it can fail)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-haproxy-'));
    try {
      writeFileSync(path.join(dir, 'haproxy.cfg'), config.replace('option httpchk', 'option httpchek'));
      const failure = await exec('haproxy', ['-c', '-f', path.join(dir, 'haproxy.cfg')]).catch((error) => error);
      expect(failure.code).not.toBe(0);
      expect(failure.stderr).toMatch(/httpchek/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;

  it('builds on the current LTS Node, and package.json still supports Node 20.19+', () => {
    // Each stage starts from that image or from an earlier stage.
    const bases = stages.map((stage) => stage.split(/\s/)[0]);
    const names = stages.map((stage) => /^\S+ AS (\S+)/.exec(stage)?.[1]);
    expect(bases[0]).toBe('node:24-bookworm-slim');
    expect(bases.at(-1)).toBe('node:24-bookworm-slim');
    expect(bases.every((base, i) => base === 'node:24-bookworm-slim' || names.slice(0, i).includes(base))).toBe(true);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).engines.node).toBe('>=20.19');
  });

  it('ships production dependencies only, built in their own stage; the console is built with the dev ones', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(final).toMatch(/COPY --from=production-deps \/app\/node_modules/);
    expect(final).toMatch(/COPY --from=build \/app\/build/);
    expect(final).not.toMatch(/npm (ci|install)/);
  });

  it('runs as the unprivileged node user, with a HEALTHCHECK that needs no curl', () => {
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/^HEALTHCHECK .*\n\s*CMD \["node", "-e", .*\/healthz/m);
  });

  it('installs the tools signing runs at runtime', () => {
    for (const pkg of ['osslsigncode', 'softhsm2', 'gnupg', 'libengine-pkcs11-openssl']) expect(final).toContain(pkg);
  });
});
