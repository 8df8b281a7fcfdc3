// Receivers on loopback for what the server sends out, and a way to wait for what arrives: a real
// HTTP server that keeps every request (webhook calls, chat messages) and answers each path as told.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Things that arrive one by one (mails, HTTP requests), kept in order of arrival. */
export class Arrivals<T> {
  readonly all: T[] = [];
  readonly #listeners = new Set<() => void>();

  add(item: T): void {
    this.all.push(item);
    for (const listener of [...this.#listeners]) listener();
  }

  where(match: (item: T) => boolean): T[] {
    return this.all.filter(match);
  }

  /** Resolves with the matching items once at least `count` have arrived. */
  waitFor(match: (item: T) => boolean, count: number, what: string, timeoutMs = 15_000): Promise<T[]> {
    if (this.where(match).length >= count) return Promise.resolve(this.where(match));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`${what}: expected ${count} within ${timeoutMs} ms, got ${this.where(match).length}`));
      }, timeoutMs);
      const check = () => {
        if (this.where(match).length < count) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(this.where(match));
      };
      this.#listeners.add(check);
    });
  }
}

export interface ReceivedRequest {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** The status it was answered with. */
  answered: number;
}

export interface HttpReceiver {
  url: string;
  requests: Arrivals<ReceivedRequest>;
  /** How to answer the nth request (from 1) to `path`; 200 when not told. */
  answer(path: string, status: (attempt: number) => number): void;
  to(path: string): ReceivedRequest[];
  waitFor(path: string, count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const requests = new Arrivals<ReceivedRequest>();
  const answers = new Map<string, (attempt: number) => number>();
  const to = (path: string) => requests.where((request) => request.path === path);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const answered = answers.get(path)?.(to(path).length + 1) ?? 200;
      res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'thanks' : 'try again');
      requests.add({ path, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), answered });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    answer: (path, status) => void answers.set(path, status),
    to,
    waitFor: (path, count, timeoutMs) => requests.waitFor((request) => request.path === path, count, path, timeoutMs),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
