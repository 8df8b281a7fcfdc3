// Fixtures for the REST API for CI (SPEC §8): a project with a certificate and signing policies, a
// CI user with its token, multipart uploads with fetch, bounded polling, and openssl verification.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SignetNode } from '../../server/index.js';
import { command, type ClientSocket, type TestAck } from './signet.js';

export const OPENSSL = '/usr/bin/openssl';

/** The result of a command that must succeed. */
export async function must<R = any>(socket: ClientSocket, name: string, input: unknown = {}): Promise<R> {
  const ack: TestAck<R> = await command<R>(socket, name, input);
  if (!ack.ok) throw new Error(`${name} failed: ${JSON.stringify(ack.error)}`);
  return ack.result;
}

export interface SigningProject {
  project: { id: string; slug: string; version: number; repositoryUrl: string | null };
  certificate: { id: string; slug: string; certificatePem: string };
}

/** A project (with a repository URL) and a freshly generated ECDSA-P256 certificate, created by `owner`. */
export async function createSigningProject(
  owner: ClientSocket,
  options: { slug: string; repositoryUrl?: string | null; certificateSlug?: string },
): Promise<SigningProject> {
  const { project } = await must(owner, 'project.create', {
    slug: options.slug,
    name: `Project ${options.slug}`,
    repositoryUrl: options.repositoryUrl === undefined ? `https://github.com/acme/${options.slug}` : options.repositoryUrl,
    description: 'signed by the tests',
  });
  const certificate = await must(owner, 'certificate.generate', {
    slug: options.certificateSlug ?? `${options.slug}-cert`,
    name: `${options.slug} signing`,
    type: 'test',
    algorithm: 'ECDSA-P256',
    commonName: `${options.slug} Test Signing`,
    validDays: 30,
  });
  return { project, certificate };
}

export async function createPolicy(
  owner: ClientSocket,
  fixture: SigningProject,
  policy: { slug: string; submitters: string[]; approvers?: string[]; requiredApprovals?: number; originVerification?: boolean; allowedBranches?: string[] },
) {
  return must(owner, 'policy.create', {
    projectId: fixture.project.id,
    certificateId: fixture.certificate.id,
    name: `Policy ${policy.slug}`,
    approvers: [],
    requiredApprovals: 0,
    ...policy,
  });
}

export interface Upload {
  fileName: string;
  data: Buffer;
}

export interface SubmitResponse {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * POSTs a multipart signing request with fetch. Fields are appended in order (so `fields` before the
 * file unless `fileFirst`); `parameters` become `parameters[name]` fields.
 */
export async function submitRequest(
  node: SignetNode,
  orgSlug: string,
  token: string | undefined,
  fields: Record<string, string | undefined>,
  upload: Upload | null,
  options: { parameters?: Record<string, string>; idempotencyKey?: string; fileFirst?: boolean } = {},
): Promise<SubmitResponse> {
  const form = new FormData();
  const appendFile = () => {
    if (upload) form.append('artifact', new Blob([new Uint8Array(upload.data)], { type: 'application/octet-stream' }), upload.fileName);
  };
  if (options.fileFirst) appendFile();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.append(name, value);
  for (const [name, value] of Object.entries(options.parameters ?? {})) form.append(`parameters[${name}]`, value);
  if (!options.fileFirst) appendFile();
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  const response = await fetch(`${node.url}/api/v1/orgs/${orgSlug}/signing-requests`, { method: 'POST', headers, body: form });
  return { status: response.status, headers: response.headers, body: await jsonOrText(response) };
}

export async function jsonOrText(response: Response): Promise<any> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { raw: text };
  }
}

/** GET with a bearer token; the raw response. */
export function getWithToken(node: SignetNode, pathOrUrl: string, token: string): Promise<Response> {
  const url = pathOrUrl.startsWith('http') ? `${node.url}${new URL(pathOrUrl).pathname}${new URL(pathOrUrl).search}` : `${node.url}${pathOrUrl}`;
  return fetch(url, { headers: { authorization: `Bearer ${token}` } });
}

/** Polls GET /signing-requests/{id} (every 50 ms, bounded) until the request reaches a final status. */
export async function waitForFinal(node: SignetNode, orgSlug: string, id: string, token: string, timeoutMs = 15_000): Promise<any> {
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

/** A scratch directory, removed by `cleanup`. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Every file below `dir`, as paths relative to it (empty when `dir` does not exist). */
export function filesBelow(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
  } catch {
    return [];
  }
  return entries.sort();
}

/** The request directories below <artifact dir>/<org>. */
export function requestDirs(artifactDir: string, orgId: string): string[] {
  try {
    return readdirSync(path.join(artifactDir, orgId)).sort();
  } catch {
    return [];
  }
}

/**
 * `openssl cms -verify` of a detached DER signature over `artifact` against `certificatePem`;
 * returns the exit status and stderr. Runs asynchronously (the server lives in this process).
 */
export async function opensslVerify(dir: string, signature: Buffer, artifact: Buffer, certificatePem: string): Promise<{ status: number; stderr: string }> {
  const unique = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const sig = path.join(dir, `sig-${unique}.p7s`);
  const content = path.join(dir, `content-${unique}`);
  const cert = path.join(dir, `cert-${unique}.pem`);
  writeFileSync(sig, signature);
  writeFileSync(content, artifact);
  writeFileSync(cert, certificatePem);
  return run(OPENSSL, ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', content, '-CAfile', cert, '-purpose', 'any', '-out', '/dev/null']);
}

/** Runs a program without blocking the event loop (a live node answers in this same process). */
export function run(
  program: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; onStdout?: (stdoutSoFar: string) => void } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      options.onStdout?.(stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
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
