// Fixtures for signing tests over a real node: people, projects, certificates, policies and API keys
// made through commands; submissions as multipart uploads over REST (SPEC §8) with a bearer token;
// waiting for a request's status on a socket's `change` events or by polling REST; certificate
// material and verification with the openssl CLI; scratch directories and child processes.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SignetNode } from '../../server/index.js';
import { addMemberDirectly } from '../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../server/audit/entries.js';
import type { Certificate, Project, SigningPolicy, SigningRequest } from '../../src/lib/shared/entities.js';
import type { ChangeEvent } from '../../src/lib/shared/events.js';
import { command, connect, OPERATOR, signIn, type ClientSocket, type TestAck, type TestOrg } from './signet.js';

export const OPENSSL = '/usr/bin/openssl';

/** The result of a command that must succeed; a failure throws with the server's message. */
export async function ok<R = any>(pending: Promise<TestAck<R>>): Promise<R> {
  const ack = await pending;
  if (!ack.ok) throw new Error(`command failed: ${ack.error.code} ${ack.error.message}`);
  return ack.result;
}

/** Shorthand for `ok(command(socket, name, input))`. */
export function must<R = any>(socket: ClientSocket, name: string, input: unknown = {}): Promise<R> {
  return ok(command<R>(socket, name, input));
}

export interface Person {
  userId: string;
  email: string;
  password: string;
  name: string;
  cookie: string;
  socket: ClientSocket;
}

/**
 * Signs in each of the org's seeded users and any extra members (created as an operator would),
 * and connects one socket per person. Sockets are pushed to `sockets` for closing.
 */
export async function people<Extra extends string>(
  node: SignetNode,
  org: TestOrg,
  extra: Record<Extra, string>,
  sockets: ClientSocket[],
): Promise<Record<'owner' | 'admin' | 'member' | 'viewer' | Extra, Person>> {
  const result = {} as Record<string, Person>;
  const names: Record<string, string> = { owner: 'Olivia Owner', admin: 'Adam Admin', member: 'Mia Member', viewer: 'Victor Viewer' };
  for (const role of ['owner', 'admin', 'member', 'viewer'] as const) {
    const user = org.users[role];
    const cookie = await signIn(node, user);
    const socket = await connect(node, { cookie });
    sockets.push(socket);
    result[role] = { userId: user.userId, email: user.email, password: user.password, name: names[role]!, cookie, socket };
  }
  for (const [key, name] of Object.entries(extra) as Array<[string, string]>) {
    const email = `${key.toLowerCase()}@${org.slug}.example.com`;
    const password = 'correct horse battery staple';
    const member = await addMemberDirectly(node.signet, org.orgId, { email, name, role: 'member', password }, OPERATOR, CLI_SOURCE);
    const cookie = await signIn(node, { email, password });
    const socket = await connect(node, { cookie });
    sockets.push(socket);
    result[key] = { userId: member.userId, email, password, name, cookie, socket };
  }
  return result as Record<'owner' | 'admin' | 'member' | 'viewer' | Extra, Person>;
}

export async function createProject(
  owner: ClientSocket,
  slug: string,
  options: { repositoryUrl?: string | null; description?: string } = {},
): Promise<Project> {
  const created = await ok(
    command(owner, 'project.create', {
      slug,
      name: `Project ${slug}`,
      repositoryUrl: options.repositoryUrl === undefined ? `https://example.com/acme/${slug}` : options.repositoryUrl,
      ...(options.description === undefined ? {} : { description: options.description }),
    }),
  );
  return created.project;
}

/** A certificate that has its X.509 certificate (not one awaiting it from a CA). */
export type IssuedCertificate = Certificate & { certificatePem: string; notBefore: string; notAfter: string };

export async function generateCertificate(
  owner: ClientSocket,
  slug: string,
  options: { algorithm?: 'RSA-2048' | 'RSA-3072' | 'ECDSA-P256'; type?: 'test' | 'release'; custody?: 'software' | 'pkcs11' } = {},
): Promise<IssuedCertificate> {
  return ok(
    command(owner, 'certificate.generate', {
      slug,
      name: `Certificate ${slug}`,
      type: options.type ?? 'test',
      custody: options.custody ?? 'software',
      algorithm: options.algorithm ?? 'ECDSA-P256',
      commonName: `Signet test ${slug}`,
      validDays: 30,
    }),
  );
}

/** The certificate's PEM as certificate.list shows it (the public part only). */
export async function certificatePem(socket: ClientSocket, certificateId: string): Promise<string> {
  const list = await ok<Certificate[]>(command(socket, 'certificate.list'));
  const found = list.find((c) => c.id === certificateId);
  if (!found) throw new Error(`certificate ${certificateId} is not listed`);
  if (found.certificatePem === null) throw new Error(`certificate ${certificateId} is awaiting its certificate`);
  return found.certificatePem;
}

export interface SigningProject {
  project: Project;
  certificate: IssuedCertificate;
}

/**
 * A project (with a GitHub repository URL unless given) and a freshly generated ECDSA-P256 test
 * certificate (slug `<slug>-cert` unless given), created by `owner`.
 */
export async function createSigningProject(
  owner: ClientSocket,
  options: { slug: string; repositoryUrl?: string | null; certificateSlug?: string },
): Promise<SigningProject> {
  const project = await createProject(owner, options.slug, {
    repositoryUrl: options.repositoryUrl === undefined ? `https://github.com/acme/${options.slug}` : options.repositoryUrl,
    description: 'signed by the tests',
  });
  const certificate = await generateCertificate(owner, options.certificateSlug ?? `${options.slug}-cert`);
  return { project, certificate };
}

/**
 * The console tests' desktop app: project `desktop-app`, certificate `release-cert` and policy
 * `release-signing`, where the member submits and one approval of the admin's is needed.
 */
export async function releaseProject(team: Record<'owner' | 'admin' | 'member', Person>): Promise<Project> {
  const project = await createProject(team.owner.socket, 'desktop-app');
  const certificate = await generateCertificate(team.owner.socket, 'release-cert');
  const release = { slug: 'release-signing', certificateId: certificate.id, approvers: [team.admin.userId], requiredApprovals: 1 };
  await createPolicy(team.owner.socket, { projectId: project.id, submitters: [team.member.userId], ...release });
  return project;
}

export async function createPolicy(
  owner: ClientSocket,
  input: {
    projectId: string;
    slug: string;
    certificateId: string;
    submitters: string[];
    approvers?: string[];
    requiredApprovals?: number;
    originVerification?: boolean;
    allowedBranches?: string[];
  },
): Promise<SigningPolicy> {
  return ok(
    command(owner, 'policy.create', {
      name: `Policy ${input.slug}`,
      approvers: [],
      requiredApprovals: 0,
      ...input,
    }),
  );
}

/** An API key of the socket's user, able to submit and read. */
export async function createApiKey(socket: ClientSocket, name = `ci-${randomBytes(3).toString('hex')}`): Promise<string> {
  const created = await ok(command(socket, 'apiKey.create', { name, permissions: ['signing:submit', 'signing:read'] }));
  return created.token as string;
}

export interface Submitted {
  status: number;
  body: any;
  headers: Headers;
}

export interface SubmitInput {
  projectSlug?: string;
  signingPolicySlug?: string;
  description?: string;
  /** Further form fields (artifactConfigurationSlug, originToken, …), in order; undefined values are left out. */
  fields?: Record<string, string | undefined>;
  /** Become `parameters[name]` fields. */
  parameters?: Record<string, string>;
  /** The artifact's bytes; null sends no file part. */
  artifact: Buffer | null;
  fileName?: string;
  /** Sends the file part before the other fields. */
  fileFirst?: boolean;
  idempotencyKey?: string;
}

/**
 * POST /api/v1/orgs/{org}/signing-requests as multipart, with `Authorization: Bearer` when a token
 * is given. Fields go in the order projectSlug, signingPolicySlug, description, `fields`,
 * `parameters`, then the file (first instead with `fileFirst`).
 */
export async function submitRequest(node: SignetNode | { url: string }, orgSlug: string, token: string | undefined, input: SubmitInput): Promise<Submitted> {
  const form = new FormData();
  const appendFile = () => {
    if (input.artifact) form.append('artifact', new Blob([new Uint8Array(input.artifact)], { type: 'application/octet-stream' }), input.fileName ?? 'app.bin');
  };
  if (input.fileFirst) appendFile();
  const fields = { projectSlug: input.projectSlug, signingPolicySlug: input.signingPolicySlug, description: input.description, ...input.fields };
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.append(name, value);
  for (const [name, value] of Object.entries(input.parameters ?? {})) form.append(`parameters[${name}]`, value);
  if (!input.fileFirst) appendFile();
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (input.idempotencyKey !== undefined) headers['idempotency-key'] = input.idempotencyKey;
  const response = await fetch(`${node.url}/api/v1/orgs/${orgSlug}/signing-requests`, { method: 'POST', headers, body: form });
  return { status: response.status, body: await jsonOrText(response), headers: response.headers };
}

/** A response's body as JSON, or `{ raw: text }` when it is not JSON. */
export async function jsonOrText(response: Response): Promise<any> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { raw: text };
  }
}

/** Submits and insists on 201; returns the request as the REST API presents it. */
export async function submitOk(...args: Parameters<typeof submitRequest>): Promise<any> {
  const response = await submitRequest(...args);
  if (response.status !== 201) throw new Error(`submission failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

/** GET with a bearer token, of a path or of a URL (whose path is asked of this node); the raw response. */
export function getWithToken(node: SignetNode | { url: string }, pathOrUrl: string, token: string): Promise<Response> {
  const url = pathOrUrl.startsWith('http') ? `${node.url}${new URL(pathOrUrl).pathname}${new URL(pathOrUrl).search}` : `${node.url}${pathOrUrl}`;
  return fetch(url, { headers: { authorization: `Bearer ${token}` } });
}

/** Polls GET /signing-requests/{id} (every 50 ms, bounded) until the request reaches a final status. */
export async function waitForFinal(node: SignetNode | { url: string }, orgSlug: string, id: string, token: string, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await getWithToken(node, `/api/v1/orgs/${orgSlug}/signing-requests/${id}`, token);
    const body = await jsonOrText(response);
    if (response.status !== 200) throw new Error(`GET ${id}: ${response.status} ${JSON.stringify(body)}`);
    if (body.isFinalStatus) return body;
    if (Date.now() > deadline) throw new Error(`request ${id} is still ${body.workflowStatus} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** GET …/signed-artifact or …/unsigned-artifact as bytes. */
export async function download(
  node: SignetNode | { url: string },
  orgSlug: string,
  token: string,
  requestId: string,
  which: 'signed-artifact' | 'unsigned-artifact',
): Promise<Buffer> {
  const response = await getWithToken(node, `/api/v1/orgs/${orgSlug}/signing-requests/${requestId}/${which}`, token);
  const data = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`download of ${which} failed: ${response.status} ${data.toString()}`);
  return data;
}

/**
 * Runs exactly `openssl cms -verify -binary -inform DER -in <sig> -content <artifact> -CAfile <cert>
 * -purpose any -out /dev/null`; returns its exit status and stderr.
 */
export function verifyWithOpenssl(signature: Buffer, artifact: Buffer, certificate: string): { status: number; stderr: string } {
  const dir = tempDir('signet-verify-');
  try {
    const sig = path.join(dir, 'signature.p7s');
    const content = path.join(dir, 'artifact');
    const cert = path.join(dir, 'cert.pem');
    writeFileSync(sig, signature);
    writeFileSync(content, artifact);
    writeFileSync(cert, certificate);
    const result = spawnSync(
      OPENSSL,
      ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', content, '-CAfile', cert, '-purpose', 'any', '-out', '/dev/null'],
      { encoding: 'utf8' },
    );
    if (result.error) throw result.error;
    return { status: result.status ?? -1, stderr: result.stderr };
  } finally {
    removeDir(dir);
  }
}

export interface ImportMaterial {
  certificatePem: string;
  privateKeyPem: string;
  /** The same certificate and key as PKCS#12, base64. */
  pkcs12Base64: string;
  pkcs12Password: string;
  /** The private key as PKCS#8 DER, base64: what must never appear in the clear at rest. */
  pkcs8DerBase64: string;
}

/** A self-signed RSA-2048 certificate with its key, as PEM and as PKCS#12 (password "secret"), made as an administrator would. */
export async function opensslCertificate(commonName = 'x'): Promise<ImportMaterial> {
  const dir = tempDir('signet-openssl-');
  const openssl = async (args: string[]) => {
    const result = await run(OPENSSL, args, { cwd: dir });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  };
  try {
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${commonName}`, '-days', '30', '-keyout', 'k.pem', '-out', 'c.pem']);
    await openssl(['pkcs12', '-export', '-inkey', 'k.pem', '-in', 'c.pem', '-passout', 'pass:secret', '-out', 'c.p12']);
    await openssl(['pkcs8', '-topk8', '-nocrypt', '-in', 'k.pem', '-outform', 'DER', '-out', 'k.der']);
    return {
      certificatePem: readFileSync(path.join(dir, 'c.pem'), 'utf8'),
      privateKeyPem: readFileSync(path.join(dir, 'k.pem'), 'utf8'),
      pkcs12Base64: readFileSync(path.join(dir, 'c.p12')).toString('base64'),
      pkcs12Password: 'secret',
      pkcs8DerBase64: readFileSync(path.join(dir, 'k.der')).toString('base64'),
    };
  } finally {
    removeDir(dir);
  }
}

/**
 * A self-signed ECDSA P-256 certificate that expired long ago (valid 2020-01-01 to 2020-01-02),
 * made with `openssl ca -selfsign -startdate -enddate` since OpenSSL 3.0's `req` cannot backdate.
 */
export function expiredCertificate(commonName = 'Signet expired test'): { certificatePem: string; privateKeyPem: string } {
  const dir = tempDir('signet-expired-');
  const run = (args: string[]) => {
    const result = spawnSync(OPENSSL, args, { cwd: dir, encoding: 'utf8' });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  };
  try {
    writeFileSync(
      path.join(dir, 'ca.cnf'),
      [
        '[ ca ]',
        'default_ca = self',
        '[ self ]',
        'database = index.txt',
        'new_certs_dir = .',
        'serial = serial',
        'default_md = sha256',
        'policy = anything',
        'unique_subject = no',
        '[ anything ]',
        'commonName = supplied',
        '[ leaf ]',
        'basicConstraints = CA:FALSE',
        'keyUsage = critical, digitalSignature',
        'extendedKeyUsage = codeSigning',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'index.txt'), '');
    writeFileSync(path.join(dir, 'serial'), '1000\n');
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'key.pem']);
    run(['req', '-new', '-key', 'key.pem', '-subj', `/CN=${commonName}`, '-out', 'req.csr']);
    run([
      'ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'key.pem', '-in', 'req.csr', '-notext',
      '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extensions', 'leaf', '-out', 'cert.pem',
    ]);
    const certificatePem = run(['x509', '-in', 'cert.pem']);
    const privateKeyPem = run(['pkey', '-in', 'key.pem']);
    return { certificatePem, privateKeyPem };
  } finally {
    removeDir(dir);
  }
}

const isRequestChange = (data: ChangeEvent, requestId: string) => data.entity === 'signingRequest' && data.id === requestId;

/** The workflow statuses of a request in the order this socket heard them. */
export function statusesSeen(socket: ClientSocket, requestId: string): string[] {
  return socket.received
    .filter((r) => r.event === 'change' && isRequestChange(r.data, requestId))
    .map((r) => (r.data.data as SigningRequest).workflowStatus);
}

/** Every version of the request this socket heard, in order. */
export function versionsSeen(socket: ClientSocket, requestId: string): SigningRequest[] {
  return socket.received.filter((r) => r.event === 'change' && isRequestChange(r.data, requestId)).map((r) => r.data.data as SigningRequest);
}

/**
 * Resolves with the request once this socket has heard it reach `workflowStatus` (looking at what
 * it heard already first, then at new `change` events). With `ask`, also asks request.get after
 * subscribing, for sockets that connected after the change may have happened.
 */
export function waitForStatus(
  socket: ClientSocket,
  requestId: string,
  workflowStatus: string,
  options: { timeoutMs?: number; ask?: boolean } = {},
): Promise<SigningRequest> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const matches = (data: ChangeEvent) => isRequestChange(data, requestId) && (data.data as SigningRequest | undefined)?.workflowStatus === workflowStatus;
  const heard = socket.received.find((r) => r.event === 'change' && matches(r.data));
  if (heard) return Promise.resolve(heard.data.data as SigningRequest);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error: Error | null, request?: SigningRequest) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('change', handler);
      if (error) reject(error);
      else resolve(request!);
    };
    const timer = setTimeout(() => {
      const seen = statusesSeen(socket, requestId);
      finish(new Error(`request ${requestId} did not reach ${workflowStatus} within ${timeoutMs} ms (heard: ${seen.join(' → ') || 'nothing'})`));
    }, timeoutMs);
    const handler = (data: ChangeEvent) => {
      if (matches(data)) finish(null, data.data as SigningRequest);
    };
    socket.on('change', handler);
    if (options.ask) {
      void command<{ request: SigningRequest }>(socket, 'request.get', { requestId }).then((ack) => {
        if (ack.ok && ack.result.request.workflowStatus === workflowStatus) finish(null, ack.result.request);
      });
    }
  });
}

/** Resolves once this socket has received `count` notifications matching `match` (counting those already received). */
export function waitForNotifications(
  socket: ClientSocket,
  match: (notification: any) => boolean,
  count: number,
  timeoutMs = 20_000,
): Promise<any[]> {
  const collect = () => socket.received.filter((r) => r.event === 'notification' && match(r.data.notification)).map((r) => r.data.notification);
  if (collect().length >= count) return Promise.resolve(collect());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('notification', handler);
      reject(new Error(`expected ${count} notifications, got ${collect().length}: ${JSON.stringify(collect().map((n) => n.title))}`));
    }, timeoutMs);
    const handler = () => {
      // onAny (which fills `received`) runs before this listener.
      if (collect().length < count) return;
      clearTimeout(timer);
      socket.off('notification', handler);
      resolve(collect());
    };
    socket.on('notification', handler);
  });
}

export function randomArtifact(size = 4096): Buffer {
  return randomBytes(size);
}

/** A scratch directory, removed with `removeDir`. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** The request directories below <artifact dir>/<org>. */
export function requestDirs(artifactDir: string, orgId: string): string[] {
  try {
    return readdirSync(path.join(artifactDir, orgId)).sort();
  } catch {
    return [];
  }
}

/** Runs a program without blocking the event loop (a live node answers in this same process). */
export function run(
  program: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; onStdout?: (stdoutSoFar: string) => void; onStderr?: (stderrSoFar: string) => void } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      options.onStdout?.(stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
      options.onStderr?.(stderr);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${program} ${args.join(' ')} did not finish within ${options.timeoutMs ?? 20_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}
