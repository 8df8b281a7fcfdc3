// The REST half of `signet sign`: the streamed multipart upload (SPEC §8) and the download of the
// signed result. Everything in between happens over Socket.IO (follow.ts).
import { createReadStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { ClientRequest } from 'node:http';
import type { SignatureFormat } from '../../../src/lib/shared/entities.js';
import { EXIT, SignExit } from './exitCodes.js';
import { ATTEMPTS, describeNetworkError, exitForAnswer, getToFile, isRetryableAnswer, retryDelay, send, sleep, type Answer } from './http.js';
import type { Reporter } from './reporter.js';

/** The request as the REST API presents it (the parts the CLI reads). */
export interface RestRequest {
  id: string;
  workflowStatus: string;
  isFinalStatus: boolean;
  projectId?: string;
  requiredApprovals: number;
  approvals: Array<{ userId: string; name: string; comment: string }>;
  denials: Array<{ userId: string; name: string; comment: string }>;
  failureReason: string | null;
  signature: { fileName?: string; sha256: string; size: number } | null;
  signatureFormat?: SignatureFormat;
  /** What stood in for approval one by one (absent from servers before approvals without stalling). */
  preApproval?: { grantId: string; cosigners: Array<{ name: string }> } | null;
  breakGlass?: { name: string; reason: string } | null;
  escalation?: { afterMinutes: number; escalatedAt: string | null; backups: Array<{ name: string }> } | null;
  links: { console?: string };
}

export interface Submission {
  url: string;
  org: string;
  token: string;
  file: string;
  fileName: string;
  size: number;
  fields: Array<[name: string, value: string]>;
  idempotencyKey?: string;
}

const apiBase = (url: string, org: string) => `${url}/api/v1/orgs/${encodeURIComponent(org)}/signing-requests`;

function multipartParts(submission: Submission) {
  const boundary = `----signet-${randomBytes(12).toString('hex')}`;
  const fields = submission.fields
    .map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
    .join('');
  // An ASCII fallback name, and the exact name in RFC 5987 form (which the server prefers).
  const ascii = submission.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const exact = encodeURIComponent(submission.fileName);
  const head = Buffer.from(
    `${fields}--${boundary}\r\nContent-Disposition: form-data; name="artifact"; filename="${ascii}"; filename*=UTF-8''${exact}\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { boundary, head, tail, length: head.length + submission.size + tail.length };
}

/** Writes the multipart body, reporting the file's bytes as they go. */
function writeMultipart(request: ClientRequest, submission: Submission, parts: ReturnType<typeof multipartParts>, onBytes: (sent: number) => void) {
  return new Promise<void>((resolve, reject) => {
    request.write(parts.head);
    let sent = 0;
    const file = createReadStream(submission.file);
    file.on('data', (chunk) => {
      sent += chunk.length;
      onBytes(sent);
      if (!request.write(chunk)) {
        file.pause();
        request.once('drain', () => file.resume());
      }
    });
    file.on('error', reject);
    file.on('end', () => {
      request.write(parts.tail);
      resolve();
    });
  });
}

/**
 * POST …/signing-requests. A retry happens only when it cannot duplicate a request: the connection
 * was refused (nothing was sent), the server said it did nothing (429, 502-504), or an
 * Idempotency-Key makes a second submission return the first one. ATTEMPTS bound it: --timeout
 * is about waiting for people, not for a server that is down.
 */
export async function submitRequest(submission: Submission, reporter: Reporter): Promise<{ request: RestRequest; reused: boolean }> {
  for (let attempt = 1; ; attempt += 1) {
    const parts = multipartParts(submission);
    const progress = reporter.uploadProgress(submission.fileName, submission.size);
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${submission.token}`,
      'content-type': `multipart/form-data; boundary=${parts.boundary}`,
      'content-length': parts.length,
      'user-agent': 'signet-cli',
    };
    if (submission.idempotencyKey) headers['idempotency-key'] = submission.idempotencyKey;
    let answer: Answer | undefined;
    try {
      answer = await send('POST', apiBase(submission.url, submission.org), headers, (request) => writeMultipart(request, submission, parts, progress.update));
    } catch (error) {
      const failure = describeNetworkError(error as NodeJS.ErrnoException, submission.url);
      const retryable = failure.notConnected || submission.idempotencyKey !== undefined;
      if (!retryable || attempt >= ATTEMPTS) {
        throw new SignExit(EXIT.unavailable, `Submitting failed: ${failure.message}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`);
      }
      reporter.step(`could not reach the server (${failure.message}); trying again`);
      await sleep(retryDelay(attempt));
      continue;
    }
    if (answer.status === 201 || answer.status === 200) {
      progress.done();
      return { request: JSON.parse(answer.body.toString('utf8')) as RestRequest, reused: answer.status === 200 };
    }
    if (isRetryableAnswer(answer) && attempt < ATTEMPTS) {
      reporter.step(`the server is busy (HTTP ${answer.status}); trying again`);
      await sleep(retryDelay(attempt, answer));
      continue;
    }
    throw exitForAnswer(answer, 'Submitting');
  }
}

/** GET …/signed-artifact into `out` (via a .partial file), checking the SHA-256 the request states. */
export async function downloadSigned(
  options: { url: string; org: string; token: string; requestId: string; out: string; sha256?: string },
  reporter: Reporter,
): Promise<void> {
  const url = `${apiBase(options.url, options.org)}/${encodeURIComponent(options.requestId)}/signed-artifact`;
  const partial = `${options.out}.partial`;
  for (let attempt = 1; ; attempt += 1) {
    let answer: Awaited<ReturnType<typeof getToFile>>;
    try {
      answer = await getToFile(url, { authorization: `Bearer ${options.token}`, 'user-agent': 'signet-cli' }, partial);
    } catch (error) {
      await rm(partial, { force: true });
      const failure = describeNetworkError(error as NodeJS.ErrnoException, options.url);
      if (attempt >= ATTEMPTS) throw new SignExit(EXIT.unavailable, `Downloading the signed file failed: ${failure.message} (after ${attempt} attempts)`);
      reporter.step(`could not download the signed file (${failure.message}); trying again`);
      await sleep(retryDelay(attempt));
      continue;
    }
    if (answer.status !== 200) {
      if (isRetryableAnswer(answer) && attempt < ATTEMPTS) {
        await sleep(retryDelay(attempt, answer));
        continue;
      }
      throw exitForAnswer(answer, 'Downloading the signed file');
    }
    if (options.sha256 && answer.sha256 !== options.sha256) {
      await rm(partial, { force: true });
      throw new SignExit(EXIT.refused, `The downloaded file's SHA-256 is ${answer.sha256}, not the ${options.sha256} the request states; nothing was written`);
    }
    await rename(partial, options.out).catch(async (error: Error) => {
      await rm(partial, { force: true });
      throw new SignExit(EXIT.refused, `Writing ${options.out} failed: ${error.message}`);
    });
    return;
  }
}
