// The real server (`server/main.ts`, what `npm start` runs) with stdout piped, as under a container or a
// service manager: every line it writes is JSON, one per HTTP request (console pages, a 404, the API),
// and no secret appears anywhere (cookie, bearer token, password, setup and invitation tokens) except
// the one-time setup link, which the operator must be shown once, in its own line.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../server/auth/sessions.js';
import { createLogger } from '../../server/logger.js';
import { ORIGIN, redisUrl } from '../helpers/signet.js';
import { removeDir, tempDir } from '../helpers/signing.js';

interface LogLine {
  level: number;
  msg: string;
  route?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  [field: string]: unknown;
}

let child: ChildProcess;
let dataDir: string;
let stdout = '';
let stderr = '';
let url: string;
let setupUrl: string;
const secrets: Record<string, string> = {};

function lines(): string[] {
  return stdout.split('\n').filter((line) => line.length > 0);
}

function parsed(): LogLine[] {
  return lines().map((line) => JSON.parse(line) as LogLine);
}

/** Resolves with the first line matching `match`, as soon as the server writes it. */
function lineWhere(match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = lines().map((line) => { try { return JSON.parse(line) as LogLine; } catch { return null; } }).find((line) => line && match(line));
      if (!found) return false;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve(found);
      return true;
    };
    const timer = setTimeout(() => {
      child.stdout!.off('data', check);
      reject(new Error(`no such log line within ${timeoutMs} ms; stdout so far:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    if (!check()) child.stdout!.on('data', check);
  });
}

async function call(method: string, path: string, options: { body?: unknown; cookie?: string; token?: string; org?: string } = {}) {
  const headers: Record<string, string> = { origin: ORIGIN, 'content-type': 'application/json' };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.org) headers['x-signet-org'] = options.org;
  return fetch(`${url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
}

beforeAll(async () => {
  // The console's pages come from the build (npm test builds it first).
  expect(existsSync('build/handler.js'), 'build/handler.js is missing: run `npx vite build`').toBe(true);
  dataDir = tempDir('signet-logs-');
  child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      SIGNET_REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
      SIGNET_DATA_DIR: dataDir,
      SIGNET_PUBLIC_URL: ORIGIN,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  url = String((await lineWhere((line) => line.msg === 'signet node listening')).url);
  setupUrl = String((await lineWhere((line) => typeof line.setupUrl === 'string')).setupUrl);
  secrets.setupToken = new URL(setupUrl).searchParams.get('token')!;
  secrets.password = `pw-${randomBytes(12).toString('hex')}`;

  // A person opens the setup link (a console page), creates the organization, signs in, makes an
  // API key, and uses it (with the cookie too); someone follows an invitation link; someone mistypes.
  expect((await fetch(setupUrl.replace(ORIGIN, url))).status).toBe(200);
  const setup = await call('POST', '/api/v1/setup', {
    body: { token: secrets.setupToken, orgSlug: 'logged', orgName: 'Logged', ownerEmail: 'owner@logged.example.com', ownerName: 'Olivia Owner', ownerPassword: secrets.password },
  });
  expect(setup.status).toBe(201);
  const login = await call('POST', '/api/v1/auth/login', { body: { email: 'owner@logged.example.com', password: secrets.password } });
  expect(login.status).toBe(200);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  secrets.session = cookie.slice(`${SESSION_COOKIE}=`.length);
  const created = await call('POST', '/api/v1/commands/apiKey.create', { cookie, org: 'logged', body: { name: 'ci', permissions: ['signing:read'] } });
  expect(created.status).toBe(200);
  secrets.apiKey = (await created.json()).result.token;
  const me = await call('POST', '/api/v1/commands/me.get', { cookie, token: secrets.apiKey, body: {} });
  expect(me.status).toBe(200);
  secrets.inviteToken = randomBytes(24).toString('base64url');
  expect((await fetch(`${url}/accept-invite?token=${secrets.inviteToken}`)).status).toBe(200);
  expect((await fetch(`${url}/no/such/page`)).status).toBe(404);
  await lineWhere((line) => line.req?.url === '/no/such/page');
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  removeDir(dataDir);
});

describe('logs of a server whose stdout is not a terminal', () => {
  it('every line is JSON, and nothing goes to stderr', () => {
    expect(lines().length).toBeGreaterThan(8);
    for (const line of lines()) expect(() => JSON.parse(line), line).not.toThrow();
    expect(stderr).toBe('');
    expect(stdout).not.toMatch(/\[404\]|\u001b\[/);
  });

  it('one line per HTTP request, with method, redacted URL, route pattern, status and time', () => {
    const requests = parsed().filter((line) => line.req);
    const find = (method: string, url: string) => requests.filter((line) => line.req!.method === method && line.req!.url === url);
    expect(find('GET', '/setup?token=[redacted]')).toEqual([expect.objectContaining({ route: 'ui', res: { statusCode: 200 }, responseTime: expect.any(Number) })]);
    expect(find('POST', '/api/v1/setup')).toEqual([expect.objectContaining({ route: '/api/v1/setup', res: { statusCode: 201 } })]);
    expect(find('POST', '/api/v1/auth/login')).toEqual([expect.objectContaining({ route: '/api/v1/auth/login', res: { statusCode: 200 } })]);
    expect(find('POST', '/api/v1/commands/me.get')).toEqual([expect.objectContaining({ route: '/api/v1/commands/:name', res: { statusCode: 200 } })]);
    expect(find('GET', '/accept-invite?token=[redacted]')).toHaveLength(1);
    expect(find('GET', '/no/such/page')).toEqual([expect.objectContaining({ route: 'ui', res: { statusCode: 404 } })]);
    // No headers at all: neither the cookie nor the bearer token can be in them.
    for (const line of requests) expect(Object.keys(line.req!).sort()).toEqual(['method', 'url']);
  });

  it('no secret appears in any line; the setup link appears once, in its own line, for the operator', () => {
    for (const [name, secret] of Object.entries(secrets)) {
      const holding = lines().filter((line) => line.includes(secret));
      if (name === 'setupToken') {
        expect(holding).toHaveLength(1);
        expect(JSON.parse(holding[0]!)).toMatchObject({ setupUrl, msg: expect.stringMatching(/create the first organization/) });
      } else {
        expect(holding, `${name} leaked`).toEqual([]);
      }
    }
  });
});

describe('logs on a terminal', () => {
  it('are readable lines (pino-pretty), not JSON, and still redact secret fields', async () => {
    let text = '';
    let wrote: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const terminal = new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        wrote();
        done();
      },
    });
    createLogger('info', { pretty: true, destination: terminal }).info({ node: 'node-a', password: 'hunter2-secret' }, 'signet node listening');
    await written;
    expect(() => JSON.parse(text)).toThrow();
    expect(text).toMatch(/INFO.*signet node listening/);
    expect(text).toContain('node-a');
    expect(text).not.toContain('hunter2-secret');
  });
});
