// examples/ci-sign.sh against a live node: submit with curl, poll until final, download the
// detached signature (which openssl verifies) or the Authenticode-signed file; an approval given live from the console while the
// script polls; a denial ends the script with exit 1 and the reason.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { connect, nextEvent, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../helpers/signet.js';
import { createPolicy, createSigningProject, must, removeDir, run, tempDir, verifyWithOpenssl, type SigningProject } from '../helpers/signing.js';
import { minimalPe, osslsigncodeVerify } from '../helpers/fixtures.js';

const SCRIPT = fileURLToPath(new URL('../../examples/ci-sign.sh', import.meta.url));

let node: SignetNode;
let org: TestOrg;
let artifactDir: string;
let work: string;
const sockets: ClientSocket[] = [];
let owner: ClientSocket;
let admin: ClientSocket;
let fixture: SigningProject;
let ciToken: string;

/** A fresh artifact file in the work directory. */
function artifactFile(name: string, size = 4000): { file: string; data: Buffer } {
  const data = randomBytes(size);
  const file = path.join(work, `${randomUUID().slice(0, 8)}-${name}`);
  writeFileSync(file, data);
  return { file, data };
}

function runScript(file: string, policy: string, env: Record<string, string> = {}, onStdout?: (stdout: string) => void, artifactConfiguration?: string) {
  return run('bash', [SCRIPT, file, fixture.project.slug, policy, ...(artifactConfiguration ? [artifactConfiguration] : [])], {
    cwd: work,
    onStdout,
    timeoutMs: 25_000,
    env: {
      ...process.env,
      SIGNET_URL: node.url,
      SIGNET_ORG: org.slug,
      SIGNET_TOKEN: ciToken,
      SIGNET_POLL_SECONDS: '0.2',
      SIGNET_TIMEOUT_SECONDS: '20',
      SIGNET_IDEMPOTENCY_KEY: `test-${randomUUID()}`,
      ...env,
    },
  });
}

/** The next signing request of `policy` that starts waiting for approval, as the admin's socket sees it. */
function nextWaitingRequest(policySlug: string) {
  return nextEvent(
    admin,
    'change',
    (event: any) => event.entity === 'signingRequest' && event.data?.policySlug === policySlug && event.data?.workflowStatus === 'WaitingForApproval',
    20_000,
  ) as Promise<{ id: string; data: { id: string } }>;
}

beforeAll(async () => {
  artifactDir = tempDir('signet-ci-artifacts-');
  work = tempDir('signet-ci-work-');
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir }));
  org = await seedOrg(node);
  owner = await connect(node, { cookie: await signIn(node, org.users.owner) });
  sockets.push(owner);
  admin = await connect(node, { cookie: await signIn(node, org.users.admin) });
  sockets.push(admin);
  fixture = await createSigningProject(owner, { slug: 'desktop-app' });
  const ci = await must(owner, 'ciUser.create', { name: 'Pipeline' });
  ciToken = ci.token;
  const approvers = [org.users.admin.userId];
  await createPolicy(owner, { projectId: fixture.project.id, certificateId: fixture.certificate.id, slug: 'automatic', submitters: [ci.ciUser.userId], approvers, requiredApprovals: 0 });
  await createPolicy(owner, { projectId: fixture.project.id, certificateId: fixture.certificate.id, slug: 'gated', submitters: [ci.ciUser.userId], approvers, requiredApprovals: 1 });
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  if (node) await node.close();
  removeDir(artifactDir);
  removeDir(work);
});

describe('examples/ci-sign.sh', () => {
  it('signs a file for a policy without approvals: exit 0, <file>.p7s that openssl verifies', async () => {
    const { file, data } = artifactFile('app.exe');
    const result = await runScript(file, 'automatic');
    expect(result.status, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/Submitted signing request sr_\w+/);
    expect(result.stdout).toContain(`Signed: ${file}.p7s`);
    expect(existsSync(`${file}.p7s`)).toBe(true);
    const verified = verifyWithOpenssl(readFileSync(`${file}.p7s`), data, fixture.certificate.certificatePem);
    expect(verified.status, verified.stderr).toBe(0);
  });

  it('with an Authenticode configuration, replaces the .exe with the signed one that osslsigncode verifies', async () => {
    await must(owner, 'artifactConfig.create', { projectId: fixture.project.id, slug: 'windows', name: 'Windows', signatureFormat: 'authenticode' });
    const file = path.join(work, `${randomUUID().slice(0, 8)}-tool.exe`);
    writeFileSync(file, minimalPe());
    const result = await runScript(file, 'automatic', {}, undefined, 'windows');
    expect(result.status, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(0);
    expect(result.stdout).toContain(`Signed: ${file}\n`);
    const verified = await osslsigncodeVerify(readFileSync(file), 'tool.exe', fixture.certificate.certificatePem);
    expect(verified.status, verified.output).toBe(0);
  });

  it('a re-run with the same Idempotency-Key reuses the request instead of creating another', async () => {
    const { file } = artifactFile('app.msi');
    const key = `job-${randomUUID()}`;
    const first = await runScript(file, 'automatic', { SIGNET_IDEMPOTENCY_KEY: key });
    expect(first.status, first.stderr).toBe(0);
    const second = await runScript(file, 'automatic', { SIGNET_IDEMPOTENCY_KEY: key });
    expect(second.status, second.stderr).toBe(0);
    const idOf = (stdout: string) => /Submitted signing request (sr_\w+)/.exec(stdout)?.[1];
    expect(idOf(first.stdout)).toBeDefined();
    expect(idOf(second.stdout)).toBe(idOf(first.stdout));
  });

  it('waits while the request needs approval, and finishes once an admin approves it live', async () => {
    const { file, data } = artifactFile('setup.exe');
    const waiting = nextWaitingRequest('gated');
    let polling!: () => void;
    const polled = new Promise<void>((resolve) => (polling = resolve));
    // The script has read the request's status at least once and is polling.
    const script = runScript(file, 'gated', {}, (stdout) => stdout.includes('… WaitingForApproval') && polling());
    const event = await waiting;
    await polled;
    const approved = await must(admin, 'request.approve', { requestId: event.id, comment: 'looks good' });
    expect(approved.workflowStatus).toBe('QueuedForProcessing');
    const result = await script;
    expect(result.status, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(0);
    expect(result.stdout).toContain(`Submitted signing request ${event.id}`);
    expect(result.stdout).toContain('WaitingForApproval');
    const verified = verifyWithOpenssl(readFileSync(`${file}.p7s`), data, fixture.certificate.certificatePem);
    expect(verified.status, verified.stderr).toBe(0);
  });

  it('a denied request ends the script with exit 1 and "Denied" on stderr, and no signature file', async () => {
    const { file } = artifactFile('rogue.exe');
    const waiting = nextWaitingRequest('gated');
    let polling!: () => void;
    const polled = new Promise<void>((resolve) => (polling = resolve));
    const script = runScript(file, 'gated', {}, (stdout) => stdout.includes('… WaitingForApproval') && polling());
    const event = await waiting;
    await polled;
    await must(admin, 'request.deny', { requestId: event.id, comment: 'not from our build' });
    const result = await script;
    expect(result.status, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(1);
    expect(result.stderr).toContain('Denied');
    expect(result.stderr).toContain('not from our build');
    expect(existsSync(`${file}.p7s`)).toBe(false);
  });

  it('a submission the server refuses ends the script with exit 1 and the server\'s reason', async () => {
    const { file } = artifactFile('app.exe');
    const result = await runScript(file, 'no-such-policy');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Submitting failed');
    expect(result.stderr).toContain('signingPolicySlug');
  });
});
