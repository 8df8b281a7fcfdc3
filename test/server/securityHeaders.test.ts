// Browser security headers (issue 10, hole 5): every page carries the console's Content-Security-
// Policy (only SvelteKit's hashed start-up script may run inline; nothing may frame it), and every
// response — page, JSON, error — carries nosniff, X-Frame-Options DENY and a referrer policy. HSTS
// and the Secure cookie only when the public URL is https. Pages need the built console.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { startUiNode, type UiNode } from '../helpers/browser.js';
import { http, seedOrg, startNode, testConfig, type TestOrg } from '../helpers/signet.js';

let ui: UiNode;

beforeAll(async () => {
  ui = await startUiNode();
});

afterAll(async () => {
  await ui?.node.close();
});

/** A CSP header as directive → sources. */
function directives(header: string | null): Record<string, string[]> {
  expect(header, 'a Content-Security-Policy header').toBeTruthy();
  return Object.fromEntries(
    header!
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Every style attribute written in the built console's markup templates. */
function builtStyleAttributes(): string[] {
  const dir = path.resolve('build/client/_app/immutable');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js'));
  return files.flatMap((file) => [...readFileSync(path.join(dir, file), 'utf8').matchAll(/style=\\?"([^"\\]*)/g)].map((match) => match[1]!));
}

/** What every response carries, whatever it is. */
function expectCommonHeaders(headers: Headers, what: string) {
  expect(headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(headers.get('x-frame-options'), what).toBe('DENY');
  expect(headers.get('referrer-policy'), what).toBe('same-origin');
  expect(directives(headers.get('content-security-policy'))['frame-ancestors'], what).toEqual(["'none'"]);
  // Plain http: no HSTS (it would be ignored, or pin a development host to https).
  expect(headers.get('strict-transport-security'), what).toBeNull();
}

describe('a console page', () => {
  it('carries a strict CSP: its script-src names only itself and the hash of the one inline script; no unsafe-inline; no framing', async () => {
    const response = await fetch(`${ui.base}/signin`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expectCommonHeaders(response.headers, 'the sign-in page');
    const csp = directives(response.headers.get('content-security-policy'));
    const html = await response.text();

    const inlineScripts = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((match) => match[1]!);
    expect(inlineScripts.length).toBeGreaterThan(0);
    expect(csp['script-src']!.sort()).toEqual(["'self'", ...inlineScripts.map(sha256)].sort());
    for (const directive of ['script-src', 'style-src', 'default-src']) {
      expect(csp[directive], directive).not.toContain("'unsafe-inline'");
      expect(csp[directive], directive).not.toContain("'unsafe-eval'");
    }
    expect(csp['default-src']).toEqual(["'self'"]);
    expect(csp['object-src']).toEqual(["'none'"]);
    expect(csp['base-uri']).toEqual(["'self'"]);
    // Socket.IO's WebSocket and the REST API: this origin only.
    const host = new URL(ui.base).host;
    expect(csp['connect-src']).toEqual(["'self'", `ws://${host}`, `wss://${host}`]);
    // No style attribute in the page; in the console's templates only those whose hash the policy names.
    expect(html).not.toMatch(/\sstyle=/);
    const styleAttributes = builtStyleAttributes();
    expect(styleAttributes.length).toBeGreaterThan(0);
    expect(csp['style-src-attr']!.sort()).toEqual(["'unsafe-hashes'", ...new Set(styleAttributes.map(sha256))].sort());
  });

  it('a page not modified since the browser cached it (304) carries no other policy that would replace the cached page\'s', async () => {
    const first = await fetch(`${ui.base}/projects`);
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await fetch(`${ui.base}/projects`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(again.headers.get('content-security-policy')).toBeNull();
    expect(again.headers.get('x-frame-options')).toBe('DENY');
  });

  it('every other page carries the same policy', async () => {
    for (const path of ['/', '/projects', '/requests/new', '/api-keys']) {
      const response = await fetch(`${ui.base}${path}`);
      expect(response.status, path).toBe(200);
      expectCommonHeaders(response.headers, path);
      expect(directives(response.headers.get('content-security-policy'))['script-src'], path).not.toContain("'unsafe-inline'");
    }
  });
});

describe('API responses', () => {
  it('a JSON response carries nosniff, DENY, the referrer policy and a CSP that lets it run and load nothing', async () => {
    for (const path of ['/api/v1/protocol.json', '/healthz']) {
      const response = await fetch(`${ui.base}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toMatch(/^application\/json/);
      expectCommonHeaders(response.headers, path);
      expect(directives(response.headers.get('content-security-policy'))['default-src'], path).toEqual(["'none'"]);
    }
  });

  it('error responses carry them too: 401 without credentials, 400 for a malformed body, 403 for a cross-site cookie request', async () => {
    const unauthenticated = await http(ui.node, 'POST', '/api/v1/commands/me.get', { body: {}, origin: null });
    expect(unauthenticated.status).toBe(401);
    const malformed = await http(ui.node, 'POST', '/api/v1/auth/login', { body: '{"email": ', origin: null });
    expect(malformed.status).toBe(400);
    const crossSite = await http(ui.node, 'POST', '/api/v1/commands/me.get', { body: {}, cookie: 'signet_session=x', origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    for (const [response, what] of [[unauthenticated, '401'], [malformed, '400'], [crossSite, '403']] as const) {
      expect(response.headers.get('content-type'), what).toMatch(/^application\/json/);
      expectCommonHeaders(response.headers, what);
    }
  });
});

describe('over https', () => {
  let node: SignetNode;
  let org: TestOrg;
  let plain: TestOrg;
  const PUBLIC_URL = 'https://signet.example.com';

  beforeAll(async () => {
    node = await startNode(testConfig({ SIGNET_PUBLIC_URL: PUBLIC_URL }));
    [org, plain] = await Promise.all([seedOrg(node), seedOrg(ui.node)]);
  });

  afterAll(async () => {
    await node?.close();
  });

  it('HSTS is sent on every response and the session cookie is Secure; over http neither', async () => {
    const signIn = await http(node, 'POST', '/api/v1/auth/login', { body: { email: org.users.member.email, password: org.users.member.password }, origin: PUBLIC_URL });
    expect(signIn.status).toBe(200);
    expect(signIn.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
    expect(signIn.headers.get('set-cookie')).toMatch(/;\s*HttpOnly/i);
    const refused = await http(node, 'POST', '/api/v1/commands/me.get', { body: {}, origin: null });
    for (const response of [signIn, refused]) {
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }

    const overHttp = await http(ui.node, 'POST', '/api/v1/auth/login', { body: { email: plain.users.member.email, password: plain.users.member.password }, origin: ui.base });
    expect(overHttp.status).toBe(200);
    expect(overHttp.headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);
    expect(overHttp.headers.get('strict-transport-security')).toBeNull();
  });
});
