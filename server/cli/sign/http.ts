// HTTP for `signet sign`: REST calls with the API key, answers mapped onto exit codes, and retries
// only where a retry cannot duplicate anything.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { EXIT, SignExit } from './exitCodes.js';

/** Errors that mean nothing reached the server: trying again cannot duplicate a submission. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
export const ATTEMPTS = 4;

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The server's error envelope as an exit: who is refused how. */
export function exitForAnswer(answer: Answer, doing: string): SignExit {
  let code = '';
  let message = answer.body.toString('utf8').slice(0, 500);
  try {
    const parsed = JSON.parse(answer.body.toString('utf8')) as { error?: { code?: string; message?: string; issues?: Array<{ path: string; message: string }> } };
    code = parsed.error?.code ?? '';
    message = parsed.error?.message ?? message;
    const issues = parsed.error?.issues ?? [];
    if (issues.length) message = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  } catch {
    // Not our envelope (a proxy's page): the status says enough.
  }
  const reason = `${doing} failed (HTTP ${answer.status}${code ? ` ${code}` : ''}): ${message}`;
  if (answer.status === 401 || answer.status === 403) return new SignExit(EXIT.auth, reason);
  if (answer.status === 429 || answer.status === 502 || answer.status === 503 || answer.status === 504) return new SignExit(EXIT.unavailable, reason);
  return new SignExit(EXIT.refused, reason);
}

export function isRetryableAnswer(answer: Answer): boolean {
  return answer.status === 429 || answer.status === 502 || answer.status === 503 || answer.status === 504;
}

/** A network failure: was nothing sent (safe to retry), and a message without secrets. */
export function describeNetworkError(error: NodeJS.ErrnoException, url: string): { notConnected: boolean; message: string } {
  const where = new URL(url).origin;
  return { notConnected: NOT_CONNECTED.has(error.code ?? ''), message: `${where}: ${error.code ?? error.message}` };
}

/** One HTTP request; `writeBody` streams the body (and reports progress), or the request has none. */
export function send(
  method: string,
  url: string,
  headers: Record<string, string | number>,
  writeBody?: (request: http.ClientRequest) => Promise<void>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const request = client.request(target, { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    if (!writeBody) return void request.end();
    writeBody(request).then(
      () => request.end(),
      (error) => request.destroy(error as Error),
    );
  });
}

/**
 * A GET whose 200 body streams into `file` (with its SHA-256 computed on the way); any other
 * answer is read into memory, as an error to report.
 */
export function getToFile(url: string, headers: Record<string, string>, file: string): Promise<Answer & { sha256?: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const request = client.request(target, { method: 'GET', headers }, (response) => {
      if (response.statusCode !== 200) {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
        return;
      }
      const hash = createHash('sha256');
      response.on('data', (chunk: Buffer) => hash.update(chunk));
      pipeline(response, createWriteStream(file)).then(
        () => resolve({ status: 200, headers: response.headers, body: Buffer.alloc(0), sha256: hash.digest('hex') }),
        reject,
      );
    });
    request.on('error', reject);
    request.end();
  });
}

/** How long to wait before attempt `attempt` (1-based), honouring Retry-After (capped). */
export function retryDelay(attempt: number, answer?: Answer): number {
  const retryAfter = Number(answer?.headers['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(retryAfter * 1000, 30_000);
  return 500 * 2 ** (attempt - 1);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
