// Secrets never reach logs, audit entries, broadcasts or error messages (and are not kept in
// Redis in the clear): a run that uses every kind of secret Signet handles — the setup token,
// passwords (right and wrong), session ids, invitation tokens, API keys (live, malformed, revoked),
// a CI user's token, a webhook secret, a private key with its passphrase, a PKCS#12 file with its
// password, an OIDC ID token, the master key and the audit key derived from it — then looks for
// each of them in everything the node said: its log at debug level, every audit entry of every
// organization, every event a socket received or could replay, and every error it answered.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { io as connectClient } from 'socket.io-client';
import type { SignetNode } from '../../../server/index.js';
import { ensureSetupToken } from '../../../server/auth/organizations.js';
import {
  auditSealed,
  command,
  connect,
  http,
  ORIGIN,
  snapshot,
  testConfig,
  type ClientSocket,
  type Rest,
} from '../../helpers/signet.js';
import { startTestIssuer, type TestIssuer } from '../../helpers/oidcIssuer.js';
import { OPENSSL, removeDir, run, submitRequest, tempDir } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

let config: ReturnType<typeof testConfig>;
let idp: TestIssuer;
const fx = useSignet({
  config: async () => {
    idp = await startTestIssuer();
    fx.onClose(() => idp.close());
    config = testConfig({ SIGNET_ARTIFACT_DIR: fx.tempDir('signet-secrets-'), SIGNET_RATE_LIMIT_PER_MINUTE: '100000' });
    return config;
  },
  log: 'debug',
  org: false,
});
let node: SignetNode;
/** Every line the node logged (pino, at debug level). */
const logged = fx.logged;
/** label → secret. */
const secrets = new Map<string, string>();
/** Every error message and body the node answered with. */
const errors: string[] = [];
const sockets: ClientSocket[] = [];

const secret = (label: string, value: string) => {
  expect(value.length, label).toBeGreaterThanOrEqual(8);
  secrets.set(label, value);
  return value;
};
const password = (label: string) => secret(`${label}'s password`, `pw-${label}-${randomBytes(12).toString('base64url')}`);

/** A REST call whose error answer, if any, is kept for the grep. */
async function call(method: string, pathname: string, options: Parameters<typeof http>[3] = {}): Promise<Rest> {
  const response = await http(node, method, pathname, options);
  if (response.status >= 400) errors.push(JSON.stringify(response.body));
  return response;
}

/** A command whose error answer, if any, is kept for the grep. */
async function send(socket: ClientSocket, name: string, input: unknown = {}) {
  const ack = await command(socket, name, input);
  if (!ack.ok) errors.push(JSON.stringify(ack.error));
  return ack;
}

async function must(socket: ClientSocket, name: string, input: unknown = {}) {
  const ack = await send(socket, name, input);
  if (!ack.ok) throw new Error(`${name}: ${ack.error.code} ${ack.error.message}`);
  return ack.result;
}

async function open(options: Parameters<typeof connect>[1]) {
  const socket = await connect(node, options);
  sockets.push(socket);
  return socket;
}

/** A handshake that must be refused; its message is kept. */
async function refusedHandshake(auth: Record<string, unknown>, cookie?: string) {
  const socket = connectClient(node.url, { transports: ['websocket'], auth, extraHeaders: { origin: ORIGIN, ...(cookie ? { cookie } : {}) }, reconnection: false, forceNew: true });
  const message = await new Promise<string>((resolve) => {
    socket.once('connect_error', (error) => resolve(error.message));
    socket.once('ready', () => resolve('(not refused)'));
  });
  socket.close();
  expect(message).not.toBe('(not refused)');
  errors.push(message);
}

/** The session cookie a response set; its id is a secret. */
function cookieOf(response: Rest): string {
  const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
  secret(`session id ${secrets.size}`, cookie.slice(cookie.indexOf('=') + 1));
  return cookie;
}

async function signIn(email: string, pw: string) {
  const response = await call('POST', '/api/v1/auth/login', { body: { email, password: pw } });
  expect(response.status).toBe(200);
  return cookieOf(response);
}

/** The base64 lines of a PEM body: any one of them found anywhere is a leak. */
function pemLines(label: string, pem: string) {
  pem
    .split('\n')
    .filter((line) => line.length >= 40 && !line.startsWith('-----') && !line.includes(':'))
    .forEach((line, i) => secret(`${label}, line ${i + 1}`, line));
}

beforeAll(() => {
  node = fx.node;
  fx.onClose(() => sockets.forEach((socket) => socket.close()));
  secret('master key', config.masterKey.toString('base64'));
  secret('audit signing key', node.signet.auditKey.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'));
});

describe('a run that uses every kind of secret', () => {
  it('sets up, signs in, invites, makes keys, imports keys, verifies origins — and fails at each on the way', async () => {
    // First run: the one-time setup link (its key prefix is fresh, so there is no organization yet).
    const setupToken = secret('setup token', (await ensureSetupToken(node.signet))!);
    const ownerPassword = password('owner');
    expect((await call('POST', '/api/v1/setup', { body: { token: `${setupToken.slice(0, -4)}AAAA`, orgSlug: 'acme', orgName: 'Acme', ownerEmail: 'owner@acme.example.com', ownerName: 'Olivia Owner', ownerPassword } })).status).toBe(404);
    expect((await call('POST', '/api/v1/setup', { body: { token: setupToken, orgSlug: 'acme', orgName: 'Acme', ownerEmail: 'owner@acme.example.com', ownerName: 'Olivia Owner', ownerPassword } })).status).toBe(201);
    expect((await call('POST', '/api/v1/setup', { body: { token: setupToken, orgSlug: 'again', orgName: 'Again', ownerEmail: 'x@acme.example.com', ownerName: 'X', ownerPassword } })).status).toBe(404);

    // Signing in, wrongly first (a near miss is as secret as the password).
    expect((await call('POST', '/api/v1/auth/login', { body: { email: 'owner@acme.example.com', password: secret('a mistyped password', `${ownerPassword}!`) } })).status).toBe(401);
    expect((await call('POST', '/api/v1/auth/login', { body: { email: 'nobody@acme.example.com', password: secret('a guessed password', 'hunter2-but-longer') } })).status).toBe(401);
    const ownerCookie = await signIn('owner@acme.example.com', ownerPassword);
    const owner = await open({ cookie: ownerCookie });

    // Invitations: accepted (with a password), mistyped, revoked.
    const people: Record<string, { cookie: string; socket: ClientSocket }> = {};
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const invited = await must(owner, 'member.invite', { email: `${role}@acme.example.com`, role });
      const token = secret(`${role}'s invitation token`, new URL(invited.inviteLink).searchParams.get('token')!);
      expect((await call('POST', '/api/v1/auth/accept-invite', { body: { token: `${token.slice(0, -3)}xyz`, name: role, password: password(`${role} (mistyped link)`) } })).status).toBe(404);
      const accepted = await call('POST', '/api/v1/auth/accept-invite', { body: { token, name: `A ${role}`, password: password(role) } });
      expect(accepted.status).toBe(200);
      const cookie = cookieOf(accepted);
      people[role] = { cookie, socket: await open({ cookie }) };
    }
    const revoked = await must(owner, 'member.invite', { email: 'late@acme.example.com', role: 'viewer' });
    const revokedToken = secret('a revoked invitation token', new URL(revoked.inviteLink).searchParams.get('token')!);
    await must(owner, 'invite.revoke', { inviteId: revoked.invitation.id });
    expect((await call('POST', '/api/v1/auth/accept-invite', { body: { token: revokedToken, name: 'Late', password: password('late') } })).status).toBe(404);

    // API keys: used, malformed, revoked; a CI user's token.
    const key = await must(people.member!.socket, 'apiKey.create', { name: 'member key', permissions: ['signing:read', 'signing:submit', 'team:read'] });
    const memberToken = secret('an API key', key.token);
    expect((await call('POST', '/api/v1/commands/member.list', { token: memberToken, body: {} })).status).toBe(200);
    const keySocket = await open({ token: memberToken });
    const malformed = secret('a mangled API key', `${memberToken.slice(0, -2)}zz`);
    expect((await call('POST', '/api/v1/commands/member.list', { token: malformed, body: {} })).status).toBe(401);
    await refusedHandshake({ token: malformed });
    const doomed = await must(people.admin!.socket, 'apiKey.create', { name: 'doomed', permissions: ['team:read'] });
    const doomedToken = secret('a revoked API key', doomed.token);
    await must(people.admin!.socket, 'apiKey.revoke', { keyId: doomed.apiKey.id });
    expect((await call('POST', '/api/v1/commands/member.list', { token: doomedToken, body: {} })).status).toBe(401);
    await refusedHandshake({ token: doomedToken });
    const bot = await must(owner, 'ciUser.create', { name: 'Release Bot' });
    const ciToken = secret('a CI user token', bot.token);
    const botSocket = await open({ token: ciToken });

    // A webhook secret.
    const project = (await must(owner, 'project.create', { slug: 'widget', name: 'Widget', repositoryUrl: 'https://github.com/acme/widget' })).project;
    secret('a webhook secret', (await must(owner, 'webhook.create', { projectId: project.id, url: 'https://93.184.215.14/hooks/widget' })).secret);

    // A private key with a passphrase (PEM), and a PKCS#12 file with a password; each also wrong.
    const dir = tempDir('signet-secret-keys-');
    try {
      const passphrase = secret('a private key passphrase', `pass-${randomBytes(10).toString('hex')}`);
      const p12Password = secret('a PKCS#12 password', `p12-${randomBytes(10).toString('hex')}`);
      const openssl = async (args: string[]) => expect((await run(OPENSSL, args, { cwd: dir })).status).toBe(0);
      await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=Secret Test', '-days', '30', '-keyout', 'plain.pem', '-out', 'cert.pem']);
      await openssl(['pkey', '-in', 'plain.pem', '-aes256', '-passout', `pass:${passphrase}`, '-out', 'encrypted.pem']);
      await openssl(['pkcs12', '-export', '-inkey', 'plain.pem', '-in', 'cert.pem', '-passout', `pass:${p12Password}`, '-out', 'bundle.p12']);
      const read = (file: string) => readFileSync(path.join(dir, file), 'utf8');
      pemLines('the private key', read('plain.pem'));
      pemLines('the encrypted private key', read('encrypted.pem'));
      const pkcs12Base64 = readFileSync(path.join(dir, 'bundle.p12')).toString('base64');
      const pem = { type: 'release', format: 'pem', certificatePem: read('cert.pem'), privateKeyPem: read('encrypted.pem') };
      const wrongPassphrase = secret('a wrong passphrase', `${passphrase}-wrong`);
      expect((await send(people.admin!.socket, 'certificate.import', { ...pem, slug: 'wrong-pass', name: 'Wrong', passphrase: wrongPassphrase })).ok).toBe(false);
      await must(people.admin!.socket, 'certificate.import', { ...pem, slug: 'imported-pem', name: 'Imported PEM', passphrase });
      const pkcs12 = { type: 'release', format: 'pkcs12', pkcs12Base64 };
      const wrongPassword = secret('a wrong PKCS#12 password', `${p12Password}-wrong`);
      expect((await send(people.admin!.socket, 'certificate.import', { ...pkcs12, slug: 'wrong-p12', name: 'Wrong', password: wrongPassword })).ok).toBe(false);
      await must(people.admin!.socket, 'certificate.import', { ...pkcs12, slug: 'imported-p12', name: 'Imported PKCS#12', password: p12Password });
    } finally {
      removeDir(dir);
    }

    // Origin verification: a valid ID token, and one signed by someone else.
    await must(people.admin!.socket, 'buildSystem.create', { name: 'GitHub Actions (test keys)', issuer: GITHUB_ISSUER, audience: idp.audience, jwksUrl: idp.jwksUrl });
    const certificate = await must(owner, 'certificate.generate', { slug: 'widget-cert', name: 'Widget', type: 'test', commonName: 'Widget' });
    await must(owner, 'policy.create', {
      projectId: project.id,
      slug: 'verified',
      name: 'Verified',
      certificateId: certificate.id,
      submitters: [bot.ciUser.userId],
      approvers: [(await must(owner, 'member.list')).find((m: { role: string }) => m.role === 'admin').userId],
      requiredApprovals: 1,
      originVerification: true,
      allowedBranches: ['main'],
    });
    const submitWith = (originToken: string) =>
      submitRequest(node, 'acme', ciToken, { projectSlug: 'widget', signingPolicySlug: 'verified', fields: { originToken }, artifact: randomBytes(512), fileName: 'widget.exe' });
    const originToken = secret('an OIDC ID token', await idp.sign({ iss: GITHUB_ISSUER, server_url: undefined }));
    expect((await submitWith(originToken)).status).toBe(201);
    const forged = secret('a forged OIDC ID token', await idp.sign({ iss: GITHUB_ISSUER, server_url: undefined, ref: 'refs/heads/evil', sub: 'repo:acme/widget:ref:refs/heads/evil' }));
    const refused = await submitWith(forged);
    expect(refused.status).toBe(403);
    errors.push(JSON.stringify(refused.body));

    // A session used after signing out.
    const viewerCookie = people.viewer!.cookie;
    await call('POST', '/api/v1/auth/logout', { cookie: viewerCookie });
    expect((await call('POST', '/api/v1/commands/me.get', { cookie: viewerCookie, body: {} })).status).toBe(401);
    await refusedHandshake({}, viewerCookie);

    // Every socket, including the key's and the CI user's, saw the run's broadcasts.
    for (const socket of [keySocket, botSocket]) expect(socket.connected).toBe(true);
    await auditSealed(node);
    // A dozen argon2id hashes and three openssl runs: slow on a busy machine.
  }, 90_000);
});

describe('none of those secrets appears', () => {
  /** Every secret, and (for tokens with a recognizable part) the part after the key id. */
  const allSecrets = () => [...secrets.entries()];

  function expectNoSecretIn(where: string, text: string) {
    expect(text.length, `${where} is not empty`).toBeGreaterThan(0);
    const found = allSecrets().filter(([, value]) => text.includes(value)).map(([label]) => label);
    expect(found, `secrets found in ${where}`).toEqual([]);
  }

  it('the run used each kind of secret (sanity check of the list)', () => {
    const labels = [...secrets.keys()].join('\n');
    for (const kind of ['setup token', 'password', 'session', 'invitation token', 'API key', 'CI user token', 'webhook secret', 'private key', 'passphrase', 'PKCS#12 password', 'OIDC ID token', 'master key', 'audit signing key']) {
      expect(labels).toContain(kind);
    }
  });

  it('in the node’s log (pino, debug level)', () => {
    expect(logged.length).toBeGreaterThan(0);
    expectNoSecretIn('the log', logged.join(''));
  });

  it('in any audit entry of any organization (or of the instance)', async () => {
    const { redis, keys } = node.signet;
    const logs = Object.keys(await snapshot(node, (key) => /:audit$/.test(key)));
    expect(logs.length).toBeGreaterThanOrEqual(2);
    const entries = (await Promise.all(logs.map((log) => redis.zrange(log, '0', '-1')))).flat();
    expect(entries.length).toBeGreaterThan(20);
    expectNoSecretIn('the audit log', entries.join('\n'));
    expect(keys.prefix).toBe(config.SIGNET_REDIS_PREFIX);
  });

  it('in any event a socket received, or could have replayed', async () => {
    expectNoSecretIn('the broadcasts', JSON.stringify(sockets.map((socket) => socket.received)));
    const { redis } = node.signet;
    const streams = Object.keys(await snapshot(node, (key) => /:events$/.test(key)));
    const events = (await Promise.all(streams.map((stream) => redis.xrange(stream, '-', '+')))).flat();
    expectNoSecretIn('the event streams', JSON.stringify(events));
  });

  it('in any error the node answered', () => {
    expect(errors.length).toBeGreaterThan(10);
    expectNoSecretIn('the errors', errors.join('\n'));
  });

  it('nor anywhere in Redis in the clear (only hashes, and sealed keys)', async () => {
    expectNoSecretIn('Redis', JSON.stringify(await snapshot(node)));
  });
});
