// Where the server may send requests of its own (webhooks, JWKS): not to link-local addresses
// (cloud metadata services live there) or unspecified/multicast ones, and not to loopback unless
// configured (a self-hosted CI on the same machine). Private ranges stay allowed: self-hosted
// build systems and receivers usually live there.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface OutboundPolicy {
  allowLoopback: boolean;
}

function refusedKind(address: string, policy: OutboundPolicy): string | null {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    if (a === 127) return policy.allowLoopback ? null : 'a loopback address';
    if (a === 169 && b === 254) return 'a link-local address';
    if (a === 0) return 'an unspecified address';
    if (a >= 224) return 'a multicast or reserved address';
    return null;
  }
  const v6 = address.toLowerCase();
  if (v6 === '::1') return policy.allowLoopback ? null : 'a loopback address';
  if (v6 === '::') return 'an unspecified address';
  if (/^fe[89ab]/.test(v6)) return 'a link-local address';
  if (v6.startsWith('ff')) return 'a multicast address';
  return null;
}

/** Resolves the URL's host and throws an Error naming the problem if any address is refused. */
export async function assertOutboundAllowed(url: string, policy: OutboundPolicy): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  // A name that does not resolve now breaks no rule: the request itself will fail if it still
  // does not resolve when it is made.
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((entry) => entry.address);
  for (const address of addresses) {
    const kind = refusedKind(address, policy);
    if (kind) throw new Error(`${new URL(url).host} resolves to ${kind}, where Signet does not send requests`);
  }
}
