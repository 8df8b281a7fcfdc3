// What `npm start` and `npm test` need on a fresh machine, installed where it can be:
// npm packages (npm ci), redis-server, SoftHSM2 (the embedded PKCS#11 token) and, for the browser
// tests, Chromium (apt-get as root).
// Plain JavaScript with no dependencies, because it runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function onPath(binary) {
  return (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/usr/sbin']).some((dir) => existsSync(path.join(dir, binary)));
}

// When stdout is not a terminal (a container, a service manager, a log collector) every line the
// server writes there is JSON; so are these notes, and the installers' own output goes to stderr.
const terminal = process.stdout.isTTY === true;

/** A progress note: plain on a terminal, else one JSON line shaped like the server's (pino) lines. */
export function note(message) {
  if (terminal) console.log(message);
  else process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, msg: message })}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['inherit', terminal ? 'inherit' : 2, 'inherit'], cwd: root, ...options });
  if (result.status !== 0) {
    console.error(`\n${command} ${args.join(' ')} failed (exit ${result.status}).`);
    process.exit(result.status ?? 1);
  }
}

export function ensureNodeModules() {
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  note('Installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

let aptUpdated = false;
/** Installs Debian packages as root; otherwise prints the command and stops (or, when `optional`, goes on without). `toolsOnly` packages are services whose daemons must not be started. */
function aptInstall(packages, what, { toolsOnly = false, optional = false } = {}) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    console.error(`\n${what} is not installed. Install it with:\n\n  sudo apt-get install -y ${packages.join(' ')}\n`);
    if (optional) return;
    process.exit(1);
  }
  note(`Installing ${packages.join(', ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  // A policy-rc.d answering 101 tells the packages' scripts not to start their services.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = toolsOnly && !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
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

/**
 * haproxy (to check deploy/haproxy.cfg and to fail clients over through it), redis-sentinel (to
 * fail Redis over) and promtool (to lint /metrics), for the tests.
 */
export function ensureOpsTools() {
  const missing = [['haproxy', 'haproxy'], ['redis-sentinel', 'redis-sentinel'], ['promtool', 'prometheus']].filter(([binary]) => !onPath(binary)).map(([, pkg]) => pkg);
  if (missing.length) aptInstall(missing, `${missing.join(', ')} (for the load balancer, Redis failover and metrics tests)`, { toolsOnly: true });
}

/** osslsigncode (Authenticode) is in bookworm-backports: adds that suite, on the machine's own mirror, if missing. */
function addBackports() {
  const lists = ['/etc/apt/sources.list', '/etc/apt/sources.list.d'];
  const listed = spawnSync('grep', ['-rqs', 'bookworm-backports', ...lists]).status === 0;
  if (listed) return;
  const sources = spawnSync('sh', ['-c', "awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null; awk '$1 == \"deb\" { print $2; exit }' /etc/apt/sources.list 2>/dev/null"], { encoding: 'utf8' });
  const mirror = sources.stdout.split('\n').find(Boolean);
  if (!mirror) return;
  spawnSync('sh', ['-c', `echo "deb ${mirror} bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list`]);
  aptUpdated = false;
}

/**
 * The signing tools: osslsigncode for Authenticode (server and tests; `npm start` goes on without it,
 * and only Authenticode signing is then unavailable); gpg, wixl and gcab for the tests' fixtures and checks.
 */
export function ensureSigningTools({ forTests }) {
  if (!onPath('osslsigncode')) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (isRoot) addBackports();
    aptInstall(['-t', 'bookworm-backports', 'osslsigncode'], 'osslsigncode 2.9 (from bookworm-backports)', { optional: !forTests });
  }
  if (!forTests) return;
  const missing = [['gpg', 'gnupg'], ['wixl', 'wixl'], ['msiinfo', 'msitools'], ['gcab', 'gcab']].filter(([binary]) => !onPath(binary)).map(([, pkg]) => pkg);
  if (!existsSync('/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so') && !existsSync('/usr/lib/aarch64-linux-gnu/engines-3/pkcs11.so')) missing.push('libengine-pkcs11-openssl');
  if (missing.length) aptInstall(missing, missing.join(', '));
}

export function ensureChromium() {
  if (!existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) aptInstall(['chromium'], 'Chromium');
}

/** Builds the SvelteKit app when there is no build or a source file is newer than it. */
export function ensureUiBuild() {
  const handler = path.join(root, 'build', 'handler.js');
  if (existsSync(handler) && !newerThan(statSync(handler).mtimeMs, ['src', 'svelte.config.js', 'vite.config.ts', 'package-lock.json'])) return;
  note('Building the console (vite build)…');
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
