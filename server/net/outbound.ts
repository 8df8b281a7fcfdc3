// The one way the server sends requests of its own (webhook deliveries, JWKS fetches). Rules in
// ./addresses.ts. Two moments:
// - when a URL is saved (`checkUrl`): the URL itself (http/https, no credentials, no localhost
//   names, no refused IP literal) and, if its name resolves now, the addresses it resolves to;
// - when a request is made (`request`, `fetch`): the same URL checks, then the address actually
//   connected to, through the connection's DNS lookup hook, so an answer that changed since the
//   URL was saved (DNS rebinding) is judged too. IP literals skip DNS: they were judged already.
// Redirects are never followed (a 3xx is an answer like any other non-2xx). Every refusal or
// failure at request time is an OutboundError with one neutral message; the reason is in `detail`
// (for the server log: host and port only, never a path, which may hold a token).
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { judgeAddress, refusedHostName, type Cidr } from './addresses.js';

export const OUTBOUND_FAILED = 'the request did not succeed';

/** A request that was refused or failed; `message` is the same for every cause. */
export class OutboundError extends Error {
  override readonly name = 'OutboundError';
  constructor(readonly detail: string) {
    super(OUTBOUND_FAILED);
  }
}

/** A URL that may not be used for outbound requests; the message says why (it is about the input). */
export class OutboundUrlError extends Error {
  override readonly name = 'OutboundUrlError';
}

export interface OutboundOptions {
  allowedCidrs: readonly Cidr[];
  /** Test-only: resolve names with these DNS servers ("127.0.0.1:5353") instead of the system resolver. */
  dnsServers?: string[];
}

export interface OutboundRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Larger answers are cut off as failures. */
  maxResponseBytes?: number;
}

export interface OutboundResponse {
  status: number;
  body: Buffer;
}

export interface OutboundClient {
  /** Checks a URL about to be saved for outbound use; throws OutboundUrlError naming the problem. */
  checkUrl(url: string): Promise<void>;
  /** Sends one request; throws OutboundError (neutral message) if it is refused or fails. */
  request(url: string, init: OutboundRequest): Promise<OutboundResponse>;
  /** The same, shaped as fetch for libraries that take one (jose's createRemoteJWKSet). */
  fetch(url: string, init: { method: 'GET'; headers: Headers; signal: AbortSignal }): Promise<Response>;
}

const SAVE_TIME_DNS_MS = 3000;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Parses and checks the URL itself; returns it with the host (brackets removed) and, for an IP literal, its verdict applied. */
function checkedUrl(text: string, allowedCidrs: readonly Cidr[]): { url: URL; host: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OutboundUrlError('the URL is not valid');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundUrlError('the URL must use http or https');
  if (url.username || url.password) throw new OutboundUrlError('the URL must not carry credentials');
  // WHATWG URL parsing has already turned 2130706433, 0x7f.1, 127.1 into 127.0.0.1 and
  // [::ffff:127.0.0.1] into [::ffff:7f00:1].
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const refusedName = refusedHostName(host);
  if (refusedName) throw new OutboundUrlError(`the URL is not allowed: ${url.hostname} is ${refusedName}`);
  if (isIP(host)) {
    const verdict = judgeAddress(host, allowedCidrs);
    if (!verdict.allowed) throw new OutboundUrlError(`the URL is not allowed: ${url.hostname} is ${verdict.kind}`);
  }
  return { url, host };
}

export function createOutboundClient(options: OutboundOptions): OutboundClient {
  const { allowedCidrs } = options;
  let resolver: dns.promises.Resolver | null = null;
  if (options.dnsServers?.length) {
    resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers(options.dnsServers);
  }

  async function resolveAll(hostname: string): Promise<string[]> {
    if (!resolver) return (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);
    const answers = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    const addresses = answers.flatMap((answer) => (answer.status === 'fulfilled' ? answer.value : []));
    if (addresses.length === 0) throw Object.assign(new Error(`${hostname} did not resolve`), { code: 'ENOTFOUND' });
    return addresses;
  }

  /** Resolves a name and refuses it if any address it resolves to is refused. */
  async function resolveChecked(hostname: string): Promise<string[]> {
    const addresses = await resolveAll(hostname);
    for (const address of addresses) {
      const verdict = judgeAddress(address, allowedCidrs);
      if (!verdict.allowed) throw new OutboundError(`${hostname} resolves to ${address}, ${verdict.kind}`);
    }
    return addresses;
  }

  // The connect-time hook: net.connect calls it for every host name (never for an IP literal).
  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolveChecked(hostname).then(
      (resolved) => {
        const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
        const addresses = resolved.filter((address) => family === 0 || isIP(address) === family);
        if (addresses.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }), '', 0);
        } else if (lookupOptions.all) {
          callback(null, addresses.map((address) => ({ address, family: isIP(address) })));
        } else {
          callback(null, addresses[0]!, isIP(addresses[0]!));
        }
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
  // No keep-alive: every request opens (and so checks) its own connection.
  const agents = { 'http:': new http.Agent({ keepAlive: false, lookup }), 'https:': new https.Agent({ keepAlive: false, lookup }) };

  async function request(text: string, init: OutboundRequest): Promise<OutboundResponse> {
    let url: URL;
    try {
      ({ url } = checkedUrl(text, allowedCidrs));
    } catch (error) {
      throw new OutboundError(`refused before connecting: ${safeUrl(text)} ${(error as Error).message}`);
    }
    const where = url.host;
    const signals = [AbortSignal.timeout(init.timeoutMs ?? DEFAULT_TIMEOUT_MS), ...(init.signal ? [init.signal] : [])];
    const limit = init.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    return new Promise<OutboundResponse>((resolve, reject) => {
      const fail = (error: unknown) => {
        if (error instanceof OutboundError) return reject(new OutboundError(`${where}: ${error.detail}`));
        const cause = error as NodeJS.ErrnoException;
        reject(new OutboundError(`${where}: ${cause?.code ?? cause?.name ?? 'error'} ${cause?.message ?? ''}`.trim()));
      };
      const outgoing = (url.protocol === 'https:' ? https : http).request(
        url,
        { method: init.method, headers: init.headers, agent: agents[url.protocol as 'http:' | 'https:'], signal: AbortSignal.any(signals) },
        (incoming) => {
          const chunks: Buffer[] = [];
          let size = 0;
          incoming.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) {
              incoming.destroy(new OutboundError(`answer larger than ${limit} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          incoming.on('error', fail);
          incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks) }));
          incoming.on('close', () => {
            if (!incoming.complete) fail(new OutboundError('the answer was cut short'));
          });
        },
      );
      outgoing.on('error', fail);
      outgoing.end(init.body);
    });
  }

  return {
    async checkUrl(text) {
      const { host } = checkedUrl(text, allowedCidrs);
      if (isIP(host)) return;
      // A name that does not resolve now breaks no rule (and the check is not a way to wait for
      // slow DNS): it is judged again when it is used.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => (timer = setTimeout(resolve, SAVE_TIME_DNS_MS, null)));
      const addresses = await Promise.race([resolveAll(host).catch(() => null), timeout]).finally(() => clearTimeout(timer));
      for (const address of addresses ?? []) {
        const verdict = judgeAddress(address, allowedCidrs);
        if (!verdict.allowed) throw new OutboundUrlError(`the URL is not allowed: ${host} resolves to ${verdict.kind}`);
      }
    },
    request,
    async fetch(text, init) {
      const response = await request(text, { method: 'GET', headers: Object.fromEntries(init.headers), signal: init.signal });
      if (response.status < 200 || response.status > 599) throw new OutboundError(`${safeUrl(text)} answered with status ${response.status}`);
      const noBody = response.status === 204 || response.status === 205 || response.status === 304;
      return new Response(noBody ? null : new Uint8Array(response.body), { status: response.status });
    },
  };
}

/** A URL as the log may show it: scheme, host and port; no path or query (they may hold a token). */
function safeUrl(text: string): string {
  try {
    return new URL(text).origin;
  } catch {
    return 'an invalid URL';
  }
}
