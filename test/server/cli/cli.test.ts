// The `signet` CLI works on the Redis of a running server (same REDIS_URL or data directory).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { command, connect, http, nextEvent, pkcs11Env, redisUrl, restCommand, signIn, startNode, testConfig } from '../../helpers/signet.js';
import { run, submitOk, waitForFinal } from '../../helpers/signing.js';
import { minimalPe } from '../../helpers/fixtures.js';
import { useSignet } from '../../helpers/signetFixture.js';

const exec = promisify(execFile);
const fx = useSignet({ org: false });
let node: SignetNode;
let env: NodeJS.ProcessEnv;

function signet(...args: string[]) {
  return exec(process.execPath, ['bin/signet.js', ...args], { env });
}

beforeAll(async () => {
  node = fx.node;
  const config = node.signet.config;
  env = {
    ...process.env,
    REDIS_URL: redisUrl(),
    SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX,
    SIGNET_MASTER_KEY: config.masterKey.toString('base64'),
    SIGNET_PUBLIC_URL: config.publicUrl,
    // The server's token (the run's SoftHSM2 token), as the server's own configuration would name it.
    ...pkcs11Env(),
  };
});

describe('the signet command line', () => {
  it('has per-command help and --version, and keeps its exit codes: 2 for usage, 1 with INVALID_INPUT for a missing option', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
    expect((await signet('--version')).stdout.trim()).toBe(version);
    const help = await signet('org', 'create', '--help');
    expect(help.stdout).toContain('Usage: signet org create [options]');
    expect(help.stdout).toContain('--owner-email <email>');
    expect((await signet('sign', '--help')).stdout).toMatch(/Exit codes:\n\s+0\s+Completed/);
    for (const args of [[], ['org'], ['no-such-command'], ['demo', '--no-such-option']]) {
      const failed = await signet(...args).catch((error) => error);
      expect(failed.code, args.join(' ')).toBe(2);
    }
    const missing = await signet('org', 'transfer-ownership', '--org', 'demo').catch((error) => error);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('INVALID_INPUT: missing --to');
  }, 60_000);
});

describe('signet demo --json', () => {
  it('prints one JSON object with a user per role and a CI user, and is idempotent', async () => {
    const first = JSON.parse((await signet('demo', '--json')).stdout);
    expect(first).toMatchObject({ org: 'demo', ciUser: { email: expect.any(String), token: expect.stringMatching(/^sgn_/) } });
    expect(first.users.map((u: { role: string }) => u.role)).toEqual(['owner', 'admin', 'member', 'viewer']);
    expect(first).toMatchObject({ project: 'demo-app', certificate: expect.any(String), policies: { test: expect.any(String), release: expect.any(String) } });
    expect(first.tokenCertificate).toBe('demo-token-certificate');
    const second = JSON.parse((await signet('demo', '--json')).stdout);
    expect(second).toEqual(first);

    // The credentials work on the running server, with the roles printed.
    for (const user of first.users) {
      const socket = await connect(node, { cookie: await signIn(node, user) });
      const me = await command<any>(socket, 'me.get');
      expect(me.ok && me.result.role).toBe(user.role);
      socket.close();
    }
    const ci = await restCommand(node, 'me.get', {}, { token: first.ciUser.token });
    expect(ci.body.result.actor.type).toBe('ciUser');
    const members = await restCommand(node, 'member.list', {}, { token: first.ciUser.token });
    expect(members.body.result).toHaveLength(5);
    // test-signing needs no approval, release-signing one from the demo admin; the CI user submits to both.
    const policies = (await restCommand(node, 'policy.list', {}, { token: first.ciUser.token })).body.result;
    const admin = (members.body.result as Array<{ email: string; userId: string }>).find((m) => m.email === first.users[1].email)!;
    const ciMember = (members.body.result as Array<{ email: string; userId: string }>).find((m) => m.email === first.ciUser.email)!;
    const test = policies.find((p: { slug: string }) => p.slug === first.policies.test);
    const release = policies.find((p: { slug: string }) => p.slug === first.policies.release);
    expect(test).toMatchObject({ requiredApprovals: 0 });
    expect(release).toMatchObject({ requiredApprovals: 1, approvers: [admin.userId] });
    expect(test.submitters).toContain(ciMember.userId);
    expect(release.submitters).toContain(ciMember.userId);
    // An Authenticode and an OpenPGP policy, each with the artifact configuration of its format: the CI user signs through both.
    expect(first).toMatchObject({ policies: { authenticode: expect.any(String), openpgp: expect.any(String) }, artifactConfigurations: { authenticode: expect.any(String), openpgp: expect.any(String) } });
    const configs = (await restCommand(node, 'artifactConfig.list', { projectId: test.projectId }, { token: first.ciUser.token })).body.result as Array<{ slug: string; signatureFormat: string }>;
    expect(configs.find((c) => c.slug === first.artifactConfigurations.authenticode)?.signatureFormat).toBe('authenticode');
    expect(configs.find((c) => c.slug === first.artifactConfigurations.openpgp)?.signatureFormat).toBe('openpgp-detached');
    for (const [kind, fileName, artifact] of [['authenticode', 'demo.exe', minimalPe()], ['openpgp', 'demo.tar.gz', Buffer.from('demo tarball')]] as const) {
      const policy = policies.find((p: { slug: string }) => p.slug === first.policies[kind]);
      expect(policy.submitters).toContain(ciMember.userId);
      const submitted = await submitOk(node, 'demo', first.ciUser.token, {
        projectSlug: first.project,
        signingPolicySlug: first.policies[kind],
        fields: { artifactConfigurationSlug: first.artifactConfigurations[kind] },
        artifact,
        fileName,
      });
      expect(await waitForFinal(node, 'demo', submitted.id, first.ciUser.token)).toMatchObject({ workflowStatus: 'Completed', signatureFormat: kind === 'authenticode' ? 'authenticode' : 'openpgp-detached' });
    }
    const certificates = (await restCommand(node, 'certificate.list', {}, { token: first.ciUser.token })).body.result;
    const custodyOf = Object.fromEntries(certificates.map((c: { slug: string; custody: string }) => [c.slug, c.custody]));
    expect(custodyOf).toEqual({ [first.certificate]: 'software', [first.tokenCertificate]: 'pkcs11' });
  });
});

describe('signet org create', () => {
  it('creates an organization whose owner sets a password through a one-time link', async () => {
    const { stdout } = await signet('org', 'create', '--slug', 'acme', '--name', 'Acme', '--owner-email', 'boss@acme.example.com', '--owner-name', 'Boss');
    const created = JSON.parse(stdout);
    expect(created).toMatchObject({ org: 'acme', owner: 'boss@acme.example.com' });
    const token = new URL(created.ownerSetupLink).searchParams.get('token');
    const accepted = await http(node, 'POST', '/api/v1/auth/accept-invite', { body: { token, name: 'Boss', password: 'a long enough password' } });
    expect(accepted.status).toBe(200);
    expect(accepted.body.result.orgs).toEqual([{ slug: 'acme', name: 'Acme', role: 'owner' }]);
    const again = await http(node, 'POST', '/api/v1/auth/accept-invite', { body: { token, name: 'Boss', password: 'a long enough password' } });
    expect(again.body.error?.code).toBe('NOT_FOUND');
  });

  it('refuses a taken slug and a bad email, naming the problem', async () => {
    const taken = await signet('org', 'create', '--slug', 'acme', '--name', 'Again', '--owner-email', 'x@acme.example.com', '--owner-name', 'X').catch((e) => e);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/CONFLICT.*acme/);
    const bad = await signet('org', 'create', '--slug', 'other', '--name', 'Other', '--owner-email', 'not-an-email', '--owner-name', 'X').catch((e) => e);
    expect(bad.stderr).toMatch(/INVALID_INPUT.*ownerEmail/);
  });
});

describe('signet org transfer-ownership', () => {
  it('moves ownership to a member; the former owner becomes an admin', async () => {
    const demo = JSON.parse((await signet('demo', '--json')).stdout);
    const admin = demo.users.find((u: { role: string }) => u.role === 'admin');
    // A console that is open sees the change live, though the CLI is no node.
    const watching = await connect(node, { cookie: await signIn(node, admin) });
    // The wait starts before the CLI runs, which takes seconds on a loaded machine: 60 s is room, not a bound.
    const live = nextEvent(watching, 'change', (event) => event.entity === 'member' && (event.data as any).role === 'owner', 60_000);
    const moved = JSON.parse((await signet('org', 'transfer-ownership', '--org', 'demo', '--to', admin.email)).stdout);
    expect(moved).toMatchObject({ owner: admin.email, formerOwnerRole: 'admin', changed: true });
    expect(((await live).data as any).email).toBe(admin.email);
    watching.close();
    const socket = await connect(node, { cookie: await signIn(node, admin) });
    expect((await command<any>(socket, 'me.get')).result.role).toBe('owner');
    socket.close();
  }, 120_000);
});

describe('first-run setup', () => {
  it('the setup link creates the first organization and its owner, once', async () => {
    const fresh = await startNode(testConfig());
    try {
      const { ensureSetupToken } = await import('../../../server/auth/organizations.js');
      const token = await ensureSetupToken(fresh.signet);
      expect(token).toBeTruthy();
      expect((await http(fresh, 'GET', '/api/v1/setup')).body.result).toEqual({ needed: true });
      const body = { token, orgSlug: 'first', orgName: 'First', ownerName: 'Founder', ownerEmail: 'founder@example.com', ownerPassword: 'founder password 1' };
      const created = await http(fresh, 'POST', '/api/v1/setup', { body });
      expect(created.status).toBe(201);
      expect((await http(fresh, 'POST', '/api/v1/setup', { body: { ...body, orgSlug: 'second' } })).body.error?.code).toBe('NOT_FOUND');
      expect(await ensureSetupToken(fresh.signet)).toBeNull();
      const socket = await connect(fresh, { cookie: await signIn(fresh, { email: 'founder@example.com', password: 'founder password 1' }) });
      expect((await command<any>(socket, 'me.get')).result.role).toBe('owner');
      socket.close();
    } finally {
      await fresh.close();
    }
  });
});

describe('the embedded token', () => {
  it('with no SIGNET_PKCS11_MODULE, a token of its own is initialized under the data directory (PINs mode 0600) and holds the demo’s token key', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'signet-embedded-token-'));
    try {
      // A fresh installation: its own data directory and Redis prefix, and no token configured.
      const { SOFTHSM2_CONF: _conf, ...inherited } = process.env;
      const fresh = { ...inherited, REDIS_URL: redisUrl(), SIGNET_DATA_DIR: dataDir, SIGNET_REDIS_PREFIX: `embedded${Date.now()}:`, SIGNET_MASTER_KEY: env.SIGNET_MASTER_KEY };
      const run = () => exec(process.execPath, ['bin/signet.js', 'demo', '--json'], { env: fresh });
      const first = await run();
      expect(first.stderr).toBe('');
      expect(JSON.parse(first.stdout).tokenCertificate).toBe('demo-token-certificate');

      const tokenDir = path.join(dataDir, 'softhsm');
      expect(readFileSync(path.join(tokenDir, 'softhsm2.conf'), 'utf8')).toContain(`directories.tokendir = ${path.join(tokenDir, 'tokens')}`);
      expect(readdirSync(path.join(tokenDir, 'tokens'))).toHaveLength(1);
      expect(existsSync(path.join(tokenDir, 'initialized'))).toBe(true);
      expect(existsSync(path.join(tokenDir, 'init.lock'))).toBe(false);
      for (const pin of ['user.pin', 'so.pin']) {
        expect(statSync(path.join(tokenDir, pin)).mode & 0o777).toBe(0o600);
        expect(readFileSync(path.join(tokenDir, pin), 'utf8').trim()).toMatch(/^[\w-]{24}$/);
      }
      // Once set up, the same token serves again: nothing is initialized twice.
      const pinBefore = readFileSync(path.join(tokenDir, 'user.pin'), 'utf8');
      expect(JSON.parse((await run()).stdout)).toEqual(JSON.parse(first.stdout));
      expect(readdirSync(path.join(tokenDir, 'tokens'))).toHaveLength(1);
      expect(readFileSync(path.join(tokenDir, 'user.pin'), 'utf8')).toBe(pinBefore);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('nodes that start together on one data directory (a shared volume) initialize one token between them', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'signet-shared-token-'));
    try {
      const { SOFTHSM2_CONF: _conf, ...inherited } = process.env;
      const script = "import('./server/signing/custody/localToken.ts').then((m) => console.log(m.ensureLocalToken(process.argv[1]).tokenLabel))";
      const starts = await Promise.all([1, 2, 3].map(() => run(process.execPath, ['--import', 'tsx', '-e', script, dataDir], { env: inherited })));
      expect(starts.map((start) => [start.status, start.stdout.trim()])).toEqual([[0, 'signet'], [0, 'signet'], [0, 'signet']]);
      expect(readdirSync(path.join(dataDir, 'softhsm', 'tokens'))).toHaveLength(1);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
