// What `npm start` and `npm test` need on a fresh machine, installed where it can be:
// npm packages (npm ci), redis-server, SoftHSM2 (the embedded PKCS#11 token) and, for the browser
// tests, Chromium (apt-get as root).
// Plain JavaScript with no dependencies, because it runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function onPath(binary) {
  return (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/usr/sbin']).some((dir) => existsSync(path.join(dir, binary)));
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.status !== 0) {
    console.error(`\n${command} ${args.join(' ')} failed (exit ${result.status}).`);
    process.exit(result.status ?? 1);
  }
}

export function ensureNodeModules() {
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('Installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

let aptUpdated = false;
/** Installs Debian packages as root; otherwise prints the command and stops (or, when `optional`, goes on without). */
function aptInstall(packages, what, { optional = false } = {}) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    console.error(`\n${what} is not installed. Install it with:\n\n  sudo apt-get install -y ${packages.join(' ')}\n`);
    if (optional) return;
    process.exit(1);
  }
  console.log(`Installing ${packages.join(', ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

export function ensureRedisServer() {
  if (!onPath('redis-server')) aptInstall(['redis-server'], 'Redis (redis-server)');
}

const SOFTHSM_MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'];

/**
 * SoftHSM2, the embedded PKCS#11 token for token-held keys, when no SIGNET_PKCS11_MODULE points at
 * another one. `npm start` goes on without it (software custody only); the tests need it.
 */
export function ensureSoftHsm({ required = false } = {}) {
  if (process.env.SIGNET_PKCS11_MODULE && !required) return;
  if (SOFTHSM_MODULES.some((file) => existsSync(file)) && onPath('softhsm2-util')) return;
  aptInstall(['softhsm2'], 'SoftHSM2 (the embedded PKCS#11 token for token-held keys)', { optional: !required });
}

export function ensureDockerCompose() {
  if (!onPath('docker-compose')) aptInstall(['docker-compose'], 'docker-compose (to validate docker-compose.yml)');
}

export function ensureChromium() {
  if (!existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) aptInstall(['chromium'], 'Chromium');
}

/** Builds the SvelteKit app when there is no build or a source file is newer than it. */
export function ensureUiBuild() {
  const handler = path.join(root, 'build', 'handler.js');
  if (existsSync(handler) && !newerThan(statSync(handler).mtimeMs, ['src', 'svelte.config.js', 'vite.config.ts', 'package-lock.json'])) return;
  console.log('Building the console (vite build)…');
  run(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn']);
}

function newerThan(time, entries) {
  for (const entry of entries) {
    const full = path.join(root, entry);
    if (!existsSync(full)) continue;
    const stat = statSync(full);
    if (stat.isDirectory()) {
      const listing = execFileSync('find', [full, '-type', 'f', '-newermt', new Date(time).toISOString()], { encoding: 'utf8' });
      if (listing.trim()) return true;
    } else if (stat.mtimeMs > time) return true;
  }
  return false;
}

export { root };
