// Fixtures for the code-signing tests: certificate material made with the openssl CLI (as an
// administrator would bring it), and signing requests submitted the way CI does (multipart REST).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SignetNode } from '../../server/index.js';

const run = promisify(execFile);

export interface ImportMaterial {
  certificatePem: string;
  privateKeyPem: string;
  /** The same certificate and key as PKCS#12, base64. */
  pkcs12Base64: string;
  pkcs12Password: string;
  /** The private key as PKCS#8 DER, base64: what must never appear in the clear at rest. */
  pkcs8DerBase64: string;
}

/** A self-signed RSA-2048 certificate with its key, as PEM and as PKCS#12 (password "secret"). */
export async function opensslCertificate(commonName = 'x'): Promise<ImportMaterial> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'signet-openssl-'));
  try {
    const key = path.join(dir, 'k.pem');
    const cert = path.join(dir, 'c.pem');
    const p12 = path.join(dir, 'c.p12');
    const der = path.join(dir, 'k.der');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${commonName}`, '-days', '30', '-keyout', key, '-out', cert]);
    await run('openssl', ['pkcs12', '-export', '-inkey', key, '-in', cert, '-passout', 'pass:secret', '-out', p12]);
    await run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', key, '-outform', 'DER', '-out', der]);
    return {
      certificatePem: await readFile(cert, 'utf8'),
      privateKeyPem: await readFile(key, 'utf8'),
      pkcs12Base64: (await readFile(p12)).toString('base64'),
      pkcs12Password: 'secret',
      pkcs8DerBase64: (await readFile(der)).toString('base64'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SubmitOptions {
  projectSlug: string;
  signingPolicySlug: string;
  fileName?: string;
  content?: string;
  description?: string;
}

/** Submits a signing request over the CI REST API with a bearer API key; returns status and body. */
export async function submitRequest(node: SignetNode, orgSlug: string, token: string, options: SubmitOptions): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append('projectSlug', options.projectSlug);
  form.append('signingPolicySlug', options.signingPolicySlug);
  if (options.description !== undefined) form.append('description', options.description);
  form.append('artifact', new Blob([options.content ?? 'hello, signed world\n']), options.fileName ?? 'app.bin');
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
  return { status: response.status, body };
}

/** Like submitRequest, but throws unless the request was created; returns its id. */
export async function submittedRequestId(node: SignetNode, orgSlug: string, token: string, options: SubmitOptions): Promise<string> {
  const { status, body } = await submitRequest(node, orgSlug, token, options);
  if (status !== 201) throw new Error(`submission failed (${status}): ${JSON.stringify(body)}`);
  return body.id as string;
}
