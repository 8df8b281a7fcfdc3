// action.yml and ci/signet.gitlab-ci.yml as their CI systems run them, against a live node: the
// GitHub Action's sign step under bash with its inputs as GitHub fills them in, and the GitLab
// template's script under sh with its variables. Both sign a file and say where the result is.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { connect, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../helpers/signet.js';
import { createPolicy, createSigningProject, must, removeDir, run, tempDir, verifyWithOpenssl, type SigningProject } from '../helpers/signing.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI_MS = 90_000;

let node: SignetNode;
let org: TestOrg;
let work: string;
let artifactDir: string;
let owner: ClientSocket;
let fixture: SigningProject;
let ciToken: string;

function url(): string {
  const address = node.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('not listening');
  return `http://127.0.0.1:${address.port}`;
}

/** The environment of a CI machine: PATH and HOME, nothing of this test runner's CI. */
function machineEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

beforeAll(async () => {
  work = tempDir('signet-templates-');
  artifactDir = tempDir('signet-templates-artifacts-');
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir }));
  org = await seedOrg(node);
  owner = await connect(node, { cookie: await signIn(node, org.users.owner) });
  fixture = await createSigningProject(owner, { slug: 'desktop-app' });
  const ci = await must(owner, 'ciUser.create', { name: 'Pipeline' });
  ciToken = ci.token;
  await createPolicy(owner, { projectId: fixture.project.id, certificateId: fixture.certificate.id, slug: 'release-signing', submitters: [ci.ciUser.userId] });
});

afterAll(async () => {
  owner?.close();
  await node?.close();
  removeDir(work);
  removeDir(artifactDir);
});

describe('the GitHub Action', () => {
  it("is a composite action whose sign step signs the file with the token from the step's env and outputs the signed file", async () => {
    const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8'));
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs)).toEqual(expect.arrayContaining(['url', 'org', 'project', 'policy', 'file', 'out', 'artifact-config']));
    expect(action.inputs).not.toHaveProperty('token');
    const step = action.runs.steps.find((s: { id?: string }) => s.id === 'sign');

    const artifact = randomBytes(2000);
    const file = path.join(work, `${randomUUID().slice(0, 8)}-app.bin`);
    writeFileSync(file, artifact);
    const inputs: Record<string, string> = { url: url(), org: org.slug, project: fixture.project.slug, policy: 'release-signing', file, out: '', 'artifact-config': '', description: 'v1.0.0', parameters: 'version=1.0.0\nchannel=stable\n', timeout: '10m' };
    // GitHub substitutes ${{ inputs.NAME }} in the step's env before the shell runs.
    const env = Object.fromEntries(Object.entries(step.env as Record<string, string>).map(([name, value]) => [name, value.replace(/\$\{\{ inputs\.([\w-]+) \}\}/, (_, input: string) => inputs[input] ?? '')]));
    const output = path.join(work, 'github-output');
    writeFileSync(output, '');
    const result = await run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], {
      env: machineEnv({ ...env, SIGNET_TOKEN: ciToken, GITHUB_ACTION_PATH: ROOT, GITHUB_OUTPUT: output, GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'acme/desktop-app', GITHUB_RUN_ID: String(Date.now()), GITHUB_JOB: 'release' }),
      timeoutMs: CLI_MS,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(output, 'utf8')).toBe(`signed-file=${file}.p7s\n`);
    expect(verifyWithOpenssl(readFileSync(`${file}.p7s`), artifact, fixture.certificate.certificatePem).status).toBe(0);
    const requests = await must<{ requests: Array<{ artifact: { fileName: string }; parameters: Record<string, string>; description: string }> }>(owner, 'request.list', { projectId: fixture.project.id });
    expect(requests.requests.find((r) => r.artifact.fileName === path.basename(file))).toMatchObject({ description: 'v1.0.0', parameters: { version: '1.0.0', channel: 'stable' } });
  }, CLI_MS);

  it('stops with a clear error when SIGNET_TOKEN is not in its env', async () => {
    const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8'));
    const step = action.runs.steps.find((s: { id?: string }) => s.id === 'sign');
    const result = await run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], { env: machineEnv({ GITHUB_ACTION_PATH: ROOT }) });
    expect(result.status).toBe(3);
    expect(result.stdout).toContain('::error::Set SIGNET_TOKEN');
  });
});

describe('the GitLab CI template', () => {
  it('defines .signet-sign, whose script signs the file under sh and names the result', async () => {
    const template = parse(readFileSync(path.join(ROOT, 'ci', 'signet.gitlab-ci.yml'), 'utf8'));
    const job = template['.signet-sign'];
    expect(Object.keys(job.variables)).toEqual(expect.arrayContaining(['SIGNET_URL', 'SIGNET_ORG', 'SIGNET_PROJECT', 'SIGNET_POLICY', 'SIGNET_FILE', 'SIGNET_OUT', 'SIGNET_ARTIFACT_CONFIG']));
    expect(job.variables).not.toHaveProperty('SIGNET_TOKEN');

    // What `npm install --global` of the package puts on PATH.
    const bin = path.join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'signet'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'bin', 'signet.js')}" "$@"\n`);
    chmodSync(path.join(bin, 'signet'), 0o755);

    const artifact = randomBytes(2000);
    const fileName = `${randomUUID().slice(0, 8)}-app.bin`;
    writeFileSync(path.join(work, fileName), artifact);
    const variables = { ...job.variables, SIGNET_URL: url(), SIGNET_ORG: org.slug, SIGNET_PROJECT: fixture.project.slug, SIGNET_POLICY: 'release-signing', SIGNET_FILE: fileName, SIGNET_PARAMETERS: 'build=42' };
    const result = await run('sh', ['-e', '-c', job.script.join('\n')], {
      cwd: work,
      env: { ...machineEnv(variables), PATH: `${bin}:${process.env.PATH}`, SIGNET_TOKEN: ciToken, GITLAB_CI: 'true', CI_PROJECT_ID: '7', CI_PIPELINE_ID: String(Date.now()), CI_JOB_NAME: 'sign' },
      timeoutMs: CLI_MS,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Signed: ${fileName}.p7s`);
    expect(readFileSync(path.join(work, '.signet-signed-file'), 'utf8')).toBe(`${fileName}.p7s\n`);
    expect(verifyWithOpenssl(readFileSync(path.join(work, `${fileName}.p7s`)), artifact, fixture.certificate.certificatePem).status).toBe(0);
  }, CLI_MS);
});
