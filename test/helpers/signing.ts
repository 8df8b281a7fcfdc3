// Fixtures for signing tests over a real node: people, projects, certificates, policies and API keys
// made through commands; submissions as multipart uploads over REST with a bearer API key;
// waiting for a request's status on a socket's `change` events; openssl verification.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SignetNode } from '../../server/index.js';
import { addMemberDirectly } from '../../server/auth/accounts.js';
import { CLI_SOURCE } from '../../server/audit/entries.js';
import type { Certificate, SigningPolicy, SigningRequest } from '../../src/lib/shared/entities.js';
import type { ChangeEvent } from '../../src/lib/shared/events.js';
import { command, connect, OPERATOR, signIn, type ClientSocket, type TestAck, type TestOrg } from './signet.js';

export const OPENSSL = '/usr/bin/openssl';

/** The result of a command that must succeed; a failure throws with the server's message. */
export async function ok<R = any>(pending: Promise<TestAck<R>>): Promise<R> {
  const ack = await pending;
  if (!ack.ok) throw new Error(`command failed: ${ack.error.code} ${ack.error.message}`);
  return ack.result;
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

export async function createProject(owner: ClientSocket, slug: string): Promise<{ id: string; slug: string }> {
  const created = await ok(command(owner, 'project.create', { slug, name: `Project ${slug}`, repositoryUrl: `https://example.com/acme/${slug}` }));
  return created.project;
}

export async function generateCertificate(
  owner: ClientSocket,
  slug: string,
  options: { algorithm?: 'RSA-2048' | 'RSA-3072' | 'ECDSA-P256'; type?: 'test' | 'release' } = {},
): Promise<Certificate> {
  return ok(
    command(owner, 'certificate.generate', {
      slug,
      name: `Certificate ${slug}`,
      type: options.type ?? 'test',
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
  return found.certificatePem;
}

export async function createPolicy(
  owner: ClientSocket,
  input: { projectId: string; slug: string; certificateId: string; submitters: string[]; approvers?: string[]; requiredApprovals?: number },
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

/** POST /api/v1/orgs/{org}/signing-requests as multipart, with `Authorization: Bearer`. */
export async function submitRequest(
  node: SignetNode | { url: string },
  orgSlug: string,
  token: string,
  input: { projectSlug: string; signingPolicySlug: string; artifact: Buffer; fileName?: string; description?: string; parameters?: Record<string, string> },
): Promise<Submitted> {
  const form = new FormData();
  form.append('projectSlug', input.projectSlug);
  form.append('signingPolicySlug', input.signingPolicySlug);
  if (input.description !== undefined) form.append('description', input.description);
  for (const [name, value] of Object.entries(input.parameters ?? {})) form.append(`parameters[${name}]`, value);
  form.append('artifact', new Blob([new Uint8Array(input.artifact)], { type: 'application/octet-stream' }), input.fileName ?? 'app.bin');
  const response = await fetch(`${node.url}/api/v1/orgs/${orgSlug}/signing-requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: response.status, body, headers: response.headers };
}

/** Submits and insists on 201; returns the request as the REST API presents it. */
export async function submitOk(...args: Parameters<typeof submitRequest>): Promise<any> {
  const response = await submitRequest(...args);
  if (response.status !== 201) throw new Error(`submission failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

/** GET …/signed-artifact or …/unsigned-artifact as bytes. */
export async function download(
  node: SignetNode | { url: string },
  orgSlug: string,
  token: string,
  requestId: string,
  which: 'signed-artifact' | 'unsigned-artifact',
): Promise<Buffer> {
  const response = await fetch(`${node.url}/api/v1/orgs/${orgSlug}/signing-requests/${requestId}/${which}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const data = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`download of ${which} failed: ${response.status} ${data.toString()}`);
  return data;
}

/**
 * Runs exactly `openssl cms -verify -binary -inform DER -in <sig> -content <artifact> -CAfile <cert>
 * -purpose any -out /dev/null`; returns its exit status and stderr.
 */
export function verifyWithOpenssl(signature: Buffer, artifact: Buffer, certificate: string): { status: number; stderr: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-verify-'));
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
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A self-signed ECDSA P-256 certificate that expired long ago (valid 2020-01-01 to 2020-01-02),
 * made with `openssl ca -selfsign -startdate -enddate` since OpenSSL 3.0's `req` cannot backdate.
 */
export function expiredCertificate(commonName = 'Signet expired test'): { certificatePem: string; privateKeyPem: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-expired-'));
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
    rmSync(dir, { recursive: true, force: true });
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
  timeoutMs = 10_000,
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
