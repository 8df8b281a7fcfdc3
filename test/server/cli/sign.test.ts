// `signet sign` as a CI job runs it: a child process with only SIGNET_TOKEN and the options, against a
// live node over real HTTP and Socket.IO, while approvers decide from their own consoles (sockets).
// It waits without polling, resumes after its connection is cut (by the server, or by the node
// going down and coming back on the same port while the request moved on), ends with one exit
// code per outcome, and re-runs of one CI job find the request the first run made.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../server/config.js';
import type { SignetNode } from '../../../server/index.js';
import { connect, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { createPolicy, createSigningProject, generateCertificate, must, removeDir, run, tempDir, verifyWithOpenssl, waitForStatus, type SigningProject } from '../../helpers/signing.js';
import { minimalPe, osslsigncodeVerify } from '../../helpers/fixtures.js';
import { EXIT } from '../../../server/cli/sign/exitCodes.js';

const BIN = fileURLToPath(new URL('../../../bin/signet.js', import.meta.url));
/** A generous bound for one CLI run on a busy machine; runs end on events, never on this. */
const CLI_MS = 90_000;

let config: Config;
let node: SignetNode;
let nodeB: SignetNode;
let org: TestOrg;
let artifactDir: string;
let work: string;
const sockets: ClientSocket[] = [];
let owner: ClientSocket;
let admin: ClientSocket;
let member: ClientSocket;
/** The admin's console on the second node: it decides while the first node is down. */
let adminOnB: ClientSocket;
let fixture: SigningProject;
let ciToken: string;
let ciUserId: string;

/** http://127.0.0.1:PORT of a node (localhost may resolve to ::1, where nodes do not listen). */
function urlOf(target: SignetNode): string {
  const address = target.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('the node is not listening');
  return `http://127.0.0.1:${address.port}`;
}

/** The CI machine's environment: none of this test runner's own CI variables. */
function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(GITHUB_|GITLAB_|CI_|SIGNET_)/.test(name) || ['JENKINS_URL', 'BUILD_TAG', 'CI'].includes(name)) continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

interface CliRun {
  result: Promise<{ status: number; stdout: string; stderr: string }>;
  /** Resolves once stderr shows `pattern`; rejects if the CLI ends first. */
  until(pattern: string | RegExp): Promise<string>;
  requestId(): Promise<string>;
}

function sign(file: string, args: string[], env: Record<string, string | undefined> = {}): CliRun {
  let stderr = '';
  const waiters: Array<{ pattern: string | RegExp; resolve: (text: string) => void }> = [];
  const matches = (pattern: string | RegExp) => (typeof pattern === 'string' ? stderr.includes(pattern) : pattern.test(stderr));
  const result = run(process.execPath, [BIN, 'sign', file, ...args], {
    env: cleanEnv({ SIGNET_TOKEN: ciToken, ...env }),
    timeoutMs: CLI_MS,
    onStderr: (text) => {
      stderr = text;
      for (const waiter of [...waiters]) {
        if (!matches(waiter.pattern)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(stderr);
      }
    },
  });
  const until = (pattern: string | RegExp) =>
    matches(pattern)
      ? Promise.resolve(stderr)
      : Promise.race([
          new Promise<string>((resolve) => waiters.push({ pattern, resolve })),
          result.then((done) => {
            throw new Error(`the CLI ended (exit ${done.status}) before printing ${pattern}\nstderr: ${done.stderr}`);
          }),
        ]);
  return {
    result,
    until,
    requestId: async () => /submitted signing request (sr_\w+)/.exec(await until(/submitted signing request sr_\w+/))![1]!,
  };
}

/** The usual options for the org's project and a policy. */
function options(policy: string, target: SignetNode = node, extra: string[] = []): string[] {
  return ['--url', urlOf(target), '--org', org.slug, '--project', fixture.project.slug, '--policy', policy, ...extra];
}

function artifactFile(name: string, size = 4000): { file: string; data: Buffer } {
  const data = randomBytes(size);
  const file = path.join(work, `${randomUUID().slice(0, 8)}-${name}`);
  writeFileSync(file, data);
  return { file, data };
}

const explain = (done: { status: number; stdout: string; stderr: string }) => `stdout: ${done.stdout}\nstderr: ${done.stderr}`;

beforeAll(async () => {
  artifactDir = tempDir('signet-cli-artifacts-');
  work = tempDir('signet-cli-work-');
  config = testConfig({ SIGNET_ARTIFACT_DIR: artifactDir });
  node = await startNode(config);
  nodeB = await startNode({ ...config, nodeId: 'node-b' });
  org = await seedOrg(node);
  owner = await connect(node, { cookie: await signIn(node, org.users.owner) });
  admin = await connect(node, { cookie: await signIn(node, org.users.admin) });
  member = await connect(node, { cookie: await signIn(node, org.users.member) });
  adminOnB = await connect(nodeB, { cookie: await signIn(nodeB, org.users.admin) });
  sockets.push(owner, admin, member, adminOnB);
  fixture = await createSigningProject(owner, { slug: 'desktop-app' });
  const ci = await must(owner, 'ciUser.create', { name: 'Pipeline' });
  ciToken = ci.token;
  ciUserId = ci.ciUser.userId;
  const base = { projectId: fixture.project.id, certificateId: fixture.certificate.id, submitters: [ciUserId] };
  await createPolicy(owner, { ...base, slug: 'automatic' });
  await createPolicy(owner, { ...base, slug: 'gated', approvers: [org.users.admin.userId], requiredApprovals: 1 });
  await createPolicy(owner, { ...base, slug: 'two-of-three', approvers: [org.users.owner.userId, org.users.admin.userId, org.users.member.userId], requiredApprovals: 2 });
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await nodeB?.close();
  removeDir(artifactDir);
  removeDir(work);
});

describe('signet sign', () => {
  it('signs a file for a policy without approvals: exit 0, the path on stdout, <file>.p7s that openssl verifies', async () => {
    const { file, data } = artifactFile('app.bin');
    // A CI machine has no Redis and none of the server's configuration: values the server would
    // refuse to start with change nothing for the client.
    const serverless = { REDIS_URL: 'redis://127.0.0.1:1', SIGNET_MASTER_KEY: 'not a key', PORT: 'not a port' };
    const done = await sign(file, options('automatic', node, ['--description', 'v1.2.3', '--param', 'version=1.2.3']), serverless).result;
    expect(done.status, explain(done)).toBe(EXIT.completed);
    expect(done.stdout).toBe(`${file}.p7s\n`);
    expect(done.stderr).toMatch(/submitted signing request sr_\w+/);
    expect(done.stderr).toContain(`signed: ${file}.p7s`);
    const verified = verifyWithOpenssl(readFileSync(`${file}.p7s`), data, fixture.certificate.certificatePem);
    expect(verified.status, verified.stderr).toBe(0);
  }, CLI_MS);

  it('with an Authenticode configuration, replaces the .exe with the signed one, and --out names another place', async () => {
    await must(owner, 'artifactConfig.create', { projectId: fixture.project.id, slug: 'windows', name: 'Windows', signatureFormat: 'authenticode' });
    const file = path.join(work, `${randomUUID().slice(0, 8)}-tool.exe`);
    writeFileSync(file, minimalPe());
    const inPlace = await sign(file, options('automatic', node, ['--artifact-config', 'windows'])).result;
    expect(inPlace.status, explain(inPlace)).toBe(EXIT.completed);
    expect(inPlace.stdout).toBe(`${file}\n`);
    expect((await osslsigncodeVerify(readFileSync(file), 'tool.exe', fixture.certificate.certificatePem)).status).toBe(0);

    const other = path.join(work, `${randomUUID().slice(0, 8)}-setup.exe`);
    const unsigned = minimalPe();
    writeFileSync(other, unsigned);
    const out = path.join(work, 'signed-setup.exe');
    const elsewhere = await sign(other, options('automatic', node, ['--artifact-config', 'windows', '--out', out])).result;
    expect(elsewhere.status, explain(elsewhere)).toBe(EXIT.completed);
    expect(elsewhere.stdout).toBe(`${out}\n`);
    expect(readFileSync(other)).toEqual(unsigned);
    expect((await osslsigncodeVerify(readFileSync(out), 'setup.exe', fixture.certificate.certificatePem)).status).toBe(0);
  }, CLI_MS);

  it('waits live while two of three approvers approve from their consoles, telling who approved and who is online', async () => {
    const { file, data } = artifactFile('release.bin');
    const cli = sign(file, options('two-of-three'));
    const requestId = await cli.requestId();
    // Owner, admin and member have consoles open: all three approvers are online.
    await cli.until('waiting for approvals: 0 of 2');
    await cli.until('Adam Admin is online · Mia Member is online · Olivia Owner is online');
    await must(admin, 'request.approve', { requestId, comment: 'checked the build' });
    await cli.until('Adam Admin approved');
    await must(member, 'request.approve', { requestId });
    const done = await cli.result;
    expect(done.status, explain(done)).toBe(EXIT.completed);
    const lines = done.stderr.split('\n');
    expect(lines).toContain('waiting for approvals: 0 of 2');
    expect(lines).toContainEqual(expect.stringMatching(/^waiting for approvals: 1 of 2 · Adam Admin approved \("checked the build"\) · Mia Member is online · Olivia Owner is online$/));
    expect(lines).toContain('Mia Member approved');
    expect(lines).toContain('approved; queued for signing');
    expect(lines).toContain('completed');
    const verified = verifyWithOpenssl(readFileSync(`${file}.p7s`), data, fixture.certificate.certificatePem);
    expect(verified.status, verified.stderr).toBe(0);
  }, CLI_MS);

  it('reconnects when the server drops its connection, and still finishes when the approval comes after', async () => {
    const { file } = artifactFile('dropped.bin');
    const cli = sign(file, options('gated'));
    const requestId = await cli.requestId();
    await cli.until(`following signing request ${requestId} live`);
    await cli.until('waiting for approvals: 0 of 1');
    // As a node does when it loses its commit channel, the server ends the connection (the
    // CLI's only: the consoles here do not reconnect by themselves).
    for (const socket of node.io.of('/').sockets.values()) {
      if ((socket.data as { principal?: { kind: string } }).principal?.kind === 'apiKey') socket.disconnect(true);
    }
    await cli.until('connection lost (io server disconnect); reconnecting');
    await cli.until(/reconnected; resuming after event \d+\ncaught up on \d+ missed event/);
    await must(admin, 'request.approve', { requestId });
    const done = await cli.result;
    expect(done.status, explain(done)).toBe(EXIT.completed);
    expect(done.stderr).toContain('Adam Admin approved');
  }, CLI_MS);

  it('resumes by sequence number after its node went down: what happened meanwhile is replayed, and it finishes', async () => {
    const { file, data } = artifactFile('outage.bin');
    const url = urlOf(node);
    const cli = sign(file, options('gated'));
    const requestId = await cli.requestId();
    // Live first: the status line can come from the upload's answer, before the socket is connected.
    await cli.until(`following signing request ${requestId} live`);
    await cli.until('waiting for approvals: 0 of 1');
    await node.close();
    await cli.until('connection lost');
    // Approved and signed through the other node while the CLI's node is down.
    const completed = waitForStatus(adminOnB, requestId, 'Completed', { timeoutMs: 30_000 });
    await must(adminOnB, 'request.approve', { requestId, comment: 'approved during the outage' });
    await completed;
    // The node comes back where the CLI keeps knocking.
    node = await startNode({ ...config, PORT: Number(new URL(url).port) });
    const done = await cli.result;
    expect(done.status, explain(done)).toBe(EXIT.completed);
    // It told the node the last event it had seen, and the node replayed what came after it: the
    // approval, queueing, signing and completion it missed, in order, before anything else.
    const lines = done.stderr.split('\n');
    const resumedAt = lines.findIndex((line) => /^reconnected; resuming after event \d+$/.test(line));
    expect(resumedAt, done.stderr).toBeGreaterThan(lines.indexOf('connection lost (io server disconnect); reconnecting'));
    expect(lines.slice(resumedAt + 1, resumedAt + 5)).toEqual(['Adam Admin approved ("approved during the outage")', 'approved; queued for signing', 'signing', 'completed']);
    const verified = verifyWithOpenssl(readFileSync(`${file}.p7s`), data, fixture.certificate.certificatePem);
    expect(verified.status, verified.stderr).toBe(0);
    // The consoles of the first node reconnect too, for the tests after this one.
    for (const [index, user] of [['owner', org.users.owner], ['admin', org.users.admin], ['member', org.users.member]] as const) {
      const socket = await connect(node, { cookie: await signIn(node, user) });
      sockets.push(socket);
      if (index === 'owner') owner = socket;
      else if (index === 'admin') admin = socket;
      else member = socket;
    }
  }, CLI_MS);
});

describe('signet sign exit codes', () => {
  it(`a denial exits ${EXIT.denied} with the approver's reason, and writes nothing`, async () => {
    const { file } = artifactFile('rogue.bin');
    const cli = sign(file, options('gated'));
    const requestId = await cli.requestId();
    await cli.until('waiting for approvals');
    await must(admin, 'request.deny', { requestId, comment: 'not from our build' });
    const done = await cli.result;
    expect(done.status, explain(done)).toBe(EXIT.denied);
    expect(done.stderr).toContain(`Signing request ${requestId} ended Denied: denied by Adam Admin: not from our build`);
    expect(done.stdout).toBe('');
    expect(existsSync(`${file}.p7s`)).toBe(false);
  }, CLI_MS);

  it(`a cancellation exits ${EXIT.canceled}`, async () => {
    const { file } = artifactFile('canceled.bin');
    const cli = sign(file, options('gated'));
    const requestId = await cli.requestId();
    await cli.until('waiting for approvals');
    await must(admin, 'request.cancel', { requestId, reason: 'wrong branch' });
    const done = await cli.result;
    expect(done.status, explain(done)).toBe(EXIT.canceled);
    expect(done.stderr).toContain('canceled (canceled by Adam Admin: wrong branch)');
  }, CLI_MS);

  it(`signing that fails (a disabled certificate) exits ${EXIT.failed} with the reason`, async () => {
    const certificate = await generateCertificate(owner, 'retired-cert');
    await createPolicy(owner, { projectId: fixture.project.id, certificateId: certificate.id, submitters: [ciUserId], slug: 'retired' });
    await must(owner, 'certificate.update', { certificateId: certificate.id, version: certificate.version, disabled: true });
    const { file } = artifactFile('late.bin');
    const done = await sign(file, options('retired')).result;
    expect(done.status, explain(done)).toBe(EXIT.failed);
    expect(done.stderr).toMatch(/ended ProcessingFailed: failed: .*disabled/);
  }, CLI_MS);

  it(`usage errors exit ${EXIT.usage}: a missing option, a token given as an option, no such file`, async () => {
    const { file } = artifactFile('usage.bin');
    const missing = await sign(file, ['--url', urlOf(node), '--org', org.slug, '--project', fixture.project.slug]).result;
    expect(missing.status).toBe(EXIT.usage);
    expect(missing.stderr).toContain("required option '--policy <slug>' not specified");
    const tokenOption = await sign(file, options('automatic', node, ['--token', 'sgn_in_the_process_list'])).result;
    expect(tokenOption.status).toBe(EXIT.usage);
    expect(tokenOption.stderr).toContain('--token is not accepted');
    expect(tokenOption.stderr).not.toContain('sgn_in_the_process_list');
    const noFile = await sign(path.join(work, 'nothing-here.bin'), options('automatic')).result;
    expect(noFile.status).toBe(EXIT.usage);
    expect(noFile.stderr).toContain('nothing-here.bin: no such file');
  }, CLI_MS);

  it(`authentication errors exit ${EXIT.auth}: an unknown token, and none at all`, async () => {
    const { file } = artifactFile('auth.bin');
    const bogus = await sign(file, options('automatic'), { SIGNET_TOKEN: 'sgn_not_a_real_key' }).result;
    expect(bogus.status, explain(bogus)).toBe(EXIT.auth);
    expect(bogus.stderr).toContain('UNAUTHENTICATED');
    expect(bogus.stderr).not.toContain('sgn_not_a_real_key');
    const none = await sign(file, options('automatic'), { SIGNET_TOKEN: undefined }).result;
    expect(none.status).toBe(EXIT.auth);
    expect(none.stderr).toContain('SIGNET_TOKEN is not set');
  }, CLI_MS);

  it(`a submission the server refuses exits ${EXIT.refused} with its reason`, async () => {
    const { file } = artifactFile('refused.bin');
    const done = await sign(file, options('no-such-policy')).result;
    expect(done.status).toBe(EXIT.refused);
    expect(done.stderr).toContain('signingPolicySlug');
    expect(done.stderr).toContain('no-such-policy');
  }, CLI_MS);

  it(`--timeout exits ${EXIT.timeout} leaving the request waiting; a re-run with the same key follows it to the end`, async () => {
    const { file } = artifactFile('patient.bin');
    const key = `job-${randomUUID()}`;
    const first = await sign(file, options('gated', node, ['--timeout', '1s']), { SIGNET_IDEMPOTENCY_KEY: key }).result;
    expect(first.status, explain(first)).toBe(EXIT.timeout);
    const requestId = /submitted signing request (sr_\w+)/.exec(first.stderr)![1]!;
    expect(first.stderr).toContain(`--timeout passed: signing request ${requestId} is still WaitingForApproval`);
    expect((await must(admin, 'request.get', { requestId })).request.workflowStatus).toBe('WaitingForApproval');

    const second = sign(file, options('gated'), { SIGNET_IDEMPOTENCY_KEY: key });
    await second.until(`found signing request ${requestId}, submitted earlier with the same idempotency key`);
    await second.until('waiting for approvals');
    await must(admin, 'request.approve', { requestId });
    const done = await second.result;
    expect(done.status, explain(done)).toBe(EXIT.completed);
  }, CLI_MS);

  it(`a server that cannot be reached exits ${EXIT.unavailable} after a few attempts`, async () => {
    const { file } = artifactFile('nowhere.bin');
    const closed = await startNode({ ...config, nodeId: 'short-lived' });
    const url = urlOf(closed);
    await closed.close();
    const done = await sign(file, ['--url', url, '--org', org.slug, '--project', 'p', '--policy', 'q']).result;
    expect(done.status, explain(done)).toBe(EXIT.unavailable);
    expect(done.stderr).toContain('ECONNREFUSED');
    expect(done.stderr).toContain('after 4 attempts');
  }, CLI_MS);
});

describe('signet sign idempotency in CI', () => {
  /** The requests the CI user has made for this file's content. */
  async function requestsFor(data: Buffer): Promise<string[]> {
    const { createHash } = await import('node:crypto');
    const sha256 = createHash('sha256').update(data).digest('hex');
    const listed = await must<{ requests: Array<{ id: string; artifact: { sha256: string } }> }>(owner, 'request.list', { projectId: fixture.project.id, limit: 100 });
    return listed.requests.filter((r) => r.artifact.sha256 === sha256).map((r) => r.id);
  }

  it('GitHub Actions: re-running the job (a new attempt) finds the first request; another file makes its own', async () => {
    const { file, data } = artifactFile('gh.bin');
    const github = { GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'acme/desktop-app', GITHUB_RUN_ID: String(Date.now()), GITHUB_JOB: 'build', GITHUB_SERVER_URL: 'https://github.com' };
    const first = await sign(file, options('automatic'), { ...github, GITHUB_RUN_ATTEMPT: '1' }).result;
    expect(first.status, explain(first)).toBe(EXIT.completed);
    const rerun = await sign(file, options('automatic'), { ...github, GITHUB_RUN_ATTEMPT: '2' }).result;
    expect(rerun.status, explain(rerun)).toBe(EXIT.completed);
    const id = /submitted signing request (sr_\w+)/.exec(first.stderr)![1];
    expect(rerun.stderr).toContain(`found signing request ${id}, submitted earlier with the same idempotency key`);
    expect(await requestsFor(data)).toEqual([id]);

    const { file: other } = artifactFile('gh-other.bin');
    const another = await sign(other, options('automatic'), { ...github, GITHUB_RUN_ATTEMPT: '2' }).result;
    expect(another.stderr).toMatch(/submitted signing request (sr_\w+)/);
    expect(another.stderr).not.toContain(id);
  }, CLI_MS);

  it('GitLab CI: a retried job (a new CI_JOB_ID in the same pipeline) finds the first request', async () => {
    const { file, data } = artifactFile('gl.bin');
    const gitlab = { GITLAB_CI: 'true', CI_SERVER_URL: 'https://gitlab.example.com', CI_PROJECT_ID: '42', CI_PIPELINE_ID: String(Date.now()), CI_JOB_NAME: 'sign' };
    const first = await sign(file, options('automatic'), { ...gitlab, CI_JOB_ID: '1001' }).result;
    const retried = await sign(file, options('automatic'), { ...gitlab, CI_JOB_ID: '1002' }).result;
    expect(first.status, explain(first)).toBe(EXIT.completed);
    expect(retried.status, explain(retried)).toBe(EXIT.completed);
    expect(retried.stderr).toContain('found signing request');
    expect(await requestsFor(data)).toHaveLength(1);
  }, CLI_MS);
});
