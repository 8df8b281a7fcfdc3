// Authenticode, signed in place with Debian's osslsigncode, which knows the PE, MSI, CAB and script
// layouts. With a software key the private key never reaches the tool or the disk:
// `osslsigncode extract-data` gives the SpcIndirectDataContent to sign, the SignedData over it is
// made here through the KeySigner (with the RFC 3161 token, when there is one, already inside),
// and `osslsigncode attach-signature` puts it into the file and verifies the result. A security
// catalog (.cat) is itself a SignedData, so it is signed here entirely. A token-held key is used by
// osslsigncode itself through the PKCS#11 engine (the PIN goes over a pipe, never argv), and
// `osslsigncode add -ts` then adds the timestamp.
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeySigner } from '../custody/signer.js';
import { attribute, buildSignedData, derContents, OID, originalBytes, parseDer, readSignerInfo, type SignerIdentity } from './signedData.js';
import { authenticodeKind, readHead } from './fit.js';
import type { TimestampPlan, TimestampResult } from './timestamping.js';

const OSSLSIGNCODE = process.env.SIGNET_OSSLSIGNCODE ?? 'osslsigncode';
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const TOOL_TIMEOUT_MS = 120_000;

const SPC_INDIRECT_DATA = '1.3.6.1.4.1.311.2.1.4';
const SPC_STATEMENT_TYPE = '1.3.6.1.4.1.311.2.1.11';
const SPC_INDIVIDUAL_SP_KEY_PURPOSE = '1.3.6.1.4.1.311.2.1.21';
const SPC_SP_OPUS_INFO = '1.3.6.1.4.1.311.2.1.12';
const MS_CTL = '1.3.6.1.4.1.311.10.1';

/** osslsigncode could not do its part; the message carries what it said. */
export class AuthenticodeFailed extends Error {}

async function runTool(
  program: string,
  args: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ status: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? TOOL_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new AuthenticodeFailed(`${program} could not be started: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 : -1), output });
    });
    child.stdin.on('error', () => {}); // a tool that exits early closes its stdin
    child.stdin.end(options.stdin ?? '');
  });
}

/** The lines of the tool's output that say what went wrong (its last few, without noise). */
function complaint(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && line !== 'Failed' && !/^(Engine|Warning: Use)/.test(line));
  return lines.slice(-3).join('; ') || 'no output';
}

async function osslsigncode(args: string[], what: string, options: { stdin?: string } = {}): Promise<string> {
  const result = await runTool(OSSLSIGNCODE, args, options);
  if (result.status !== 0) throw new AuthenticodeFailed(`osslsigncode could not ${what}: ${complaint(result.output)}`);
  return result.output;
}

export interface AuthenticodeInput extends SignerIdentity {
  signer: KeySigner;
  fileName: string;
  /** The unsigned file; left as it is. */
  input: string;
  /** Where the signed file goes (written whole, then renamed into place). */
  output: string;
  /** A private scratch directory. */
  workDir: string;
  timestamp: TimestampPlan;
}

/** Certificates osslsigncode's own check after attaching may trust: ours, and the system's for a CA-issued one. */
async function trustFile(identity: SignerIdentity, workDir: string): Promise<string> {
  const pems = [identity.certificatePem, ...(identity.chainPems ?? [])];
  const file = path.join(workDir, 'trust.pem');
  const system = existsSync(SYSTEM_CA_BUNDLE) ? await readFile(SYSTEM_CA_BUNDLE, 'utf8') : '';
  await writeFile(file, `${pems.join('\n')}\n${system}`);
  return file;
}

async function authenticodeSignedData(input: AuthenticodeInput, contentType: string, content: asn1js.AsnType, extra: pkijs.Attribute[], result: TimestampResult) {
  return buildSignedData({
    certificatePem: input.certificatePem,
    chainPems: input.chainPems,
    signer: input.signer,
    contentType,
    content,
    // Authenticode digests the content's SEQUENCE without its tag and length.
    digest: createHash('sha256').update(derContents(originalBytes(content))).digest(),
    attributes: extra,
    timestamp: (signatureValue) => input.timestamp.obtain(signatureValue, result),
    timestampAttribute: OID.authenticodeTimestampToken,
  });
}

function firstDerValue(data: Buffer): Buffer {
  const parsed = asn1js.fromBER(Uint8Array.from(data));
  return parsed.offset > 0 ? data.subarray(0, parsed.offset) : data;
}

function encapsulated(der: Buffer, what: string): { contentType: string; content: asn1js.AsnType } {
  const contentInfo = new pkijs.ContentInfo({ schema: parseDer(der, what) });
  if (contentInfo.contentType !== OID.signedData) throw new AuthenticodeFailed(`${what} is not a PKCS#7 SignedData`);
  const signedData = new pkijs.SignedData({ schema: contentInfo.content });
  const content = signedData.encapContentInfo.eContent as asn1js.AsnType | undefined;
  if (!content) throw new AuthenticodeFailed(`${what} has no content to sign`);
  return { contentType: signedData.encapContentInfo.eContentType, content };
}

/** Signs `input.input` into `input.output`; returns what became of the timestamp. */
export async function signAuthenticode(input: AuthenticodeInput): Promise<TimestampResult> {
  // osslsigncode knows scripts by their extension: give it the file under its own name.
  const safeName = path.basename(input.fileName).replace(/[^\w.-]/g, '_');
  const named = path.join(input.workDir, safeName);
  await link(input.input, named).catch(() => copyFile(input.input, named));
  const finalOutput = input.output;
  input = { ...input, input: named };
  const { head, size } = await readHead(input.input);
  const fit = authenticodeKind(input.fileName, head, size);
  if ('problem' in fit) throw new AuthenticodeFailed(fit.problem);
  const result: TimestampResult = { timestamp: null, noTimestampReason: null };
  const partial = path.join(input.workDir, `signed-${safeName}`);
  if (input.signer.pkcs11 && fit.kind !== 'cat') {
    await signWithToken(input, partial, result);
  } else if (fit.kind === 'cat') {
    // A catalog is a SignedData over its certificate trust list: sign that list, keep the rest.
    const catalog = encapsulated(await readFile(input.input), `${input.fileName}`);
    if (catalog.contentType !== MS_CTL) throw new AuthenticodeFailed(`${input.fileName} is not a security catalog (no certificate trust list)`);
    await writeFile(partial, await authenticodeSignedData(input, MS_CTL, catalog.content, [], result));
  } else {
    const dataFile = path.join(input.workDir, 'data.p7');
    const signatureFile = path.join(input.workDir, 'signature.p7');
    await osslsigncode(['extract-data', '-h', 'sha256', '-in', input.input, '-out', dataFile], `read ${input.fileName}`);
    // osslsigncode may leave bytes of its scratch output after the DER it wrote: read the first value.
    const data = encapsulated(firstDerValue(await readFile(dataFile)), 'the data osslsigncode extracted');
    if (data.contentType !== SPC_INDIRECT_DATA) throw new AuthenticodeFailed(`osslsigncode extracted unexpected content (${data.contentType})`);
    const statement = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: SPC_INDIVIDUAL_SP_KEY_PURPOSE })] });
    const opusInfo = new asn1js.Sequence({ value: [] }); // no program name or URL, as signtool writes it
    const signature = await authenticodeSignedData(input, SPC_INDIRECT_DATA, data.content, [attribute(SPC_STATEMENT_TYPE, statement), attribute(SPC_SP_OPUS_INFO, opusInfo)], result);
    await writeFile(signatureFile, signature);
    await osslsigncode(
      ['attach-signature', '-sigin', signatureFile, '-CAfile', await trustFile(input, input.workDir), '-h', 'sha256', '-in', input.input, '-out', partial],
      `attach the signature to ${input.fileName}`,
    );
  }
  await rename(partial, finalOutput);
  return result;
}

async function signWithToken(input: AuthenticodeInput, partial: string, result: TimestampResult) {
  const token = input.signer.pkcs11!;
  const certs = path.join(input.workDir, 'certs.pem');
  await writeFile(certs, [input.certificatePem, ...(input.chainPems ?? [])].join('\n'));
  const signed = path.join(input.workDir, `token-${path.basename(input.input)}`); // keeps the extension scripts are known by
  // `-readpass -` takes the PIN from stdin, so it never shows in the process list.
  await osslsigncode(
    ['sign', '-pkcs11module', token.modulePath, '-key', token.uri, '-certs', certs, '-h', 'sha256', '-readpass', '-', '-in', input.input, '-out', signed],
    `sign ${input.fileName} with the token key`,
    { stdin: `${token.pin}\n` },
  );
  const tsaUrl = await input.timestamp.prepare(result);
  if (!tsaUrl) return rename(signed, partial);
  const added = await runTool(OSSLSIGNCODE, ['add', '-ts', tsaUrl, '-h', 'sha256', '-in', signed, '-out', partial]);
  if (added.status !== 0) {
    await rm(partial, { force: true });
    input.timestamp.unavailable(`the time-stamping authority ${new URL(tsaUrl).host} did not answer: ${complaint(added.output)}`, result);
    return rename(signed, partial);
  }
  // Read back what the TSA certified, for the request's record.
  const extracted = path.join(input.workDir, 'signature.p7');
  await osslsigncode(['extract-signature', '-in', partial, '-out', extracted], `read the signature of ${input.fileName}`);
  const tokenDer = readSignerInfo(await readFile(extracted)).unsignedAttributes.get(OID.authenticodeTimestampToken);
  result.timestamp = { time: tokenDer ? timestampTime(tokenDer) : new Date().toISOString(), tsaUrl: input.timestamp.shown(tsaUrl) };
}

/** The genTime of an RFC 3161 token. */
function timestampTime(tokenDer: Buffer): string {
  const contentInfo = new pkijs.ContentInfo({ schema: parseDer(tokenDer, 'the timestamp token') });
  const signed = new pkijs.SignedData({ schema: contentInfo.content });
  const content = signed.encapContentInfo.eContent!;
  return new pkijs.TSTInfo({ schema: parseDer(new Uint8Array(content.getValue()), 'the token content') }).genTime.toISOString();
}

