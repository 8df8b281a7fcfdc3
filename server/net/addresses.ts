// Which addresses the server may send requests of its own to (webhooks, JWKS), decided with
// ipaddr.js's special ranges. Three answers:
// - public unicast addresses: allowed;
// - loopback, private (RFC 1918), carrier-grade NAT (100.64.0.0/10) and unique-local (fc00::/7):
//   refused unless the operator lists a CIDR that covers them (SIGNET_OUTBOUND_ALLOWED_CIDRS);
// - everything else (link-local, cloud metadata, unspecified, broadcast, multicast, reserved,
//   documentation, and whatever range ipaddr.js names that is not listed here): always refused.
// An IPv6 address that carries an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-translated
// ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo
// 2001::/32) is judged by the IPv4 address it carries: the network delivers it there.
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
export type Cidr = [Address, number];

/** Cloud metadata services: never reachable, whatever an allowed CIDR covers. */
const METADATA_ADDRESSES = [
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean…
  '169.254.170.2', // AWS ECS task metadata
  '100.100.100.200', // Alibaba Cloud
  '168.63.129.16', // Azure WireServer
  '192.0.0.192', // Oracle Cloud (classic)
  'fd00:ec2::254', // AWS IMDS over IPv6
].map((text) => ipaddr.parse(text));

/** The ranges an allowed CIDR may open, by ipaddr.js range name, with how a message names them. */
const ALLOWABLE: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  carrierGradeNat: 'a carrier-grade NAT address',
  uniqueLocal: 'a unique-local address',
};

const ALLOWABLE_CIDRS: Cidr[] = ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '::1/128', 'fc00::/7'].map(
  (text) => ipaddr.parseCIDR(text),
);

const NEVER: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  reserved: 'a reserved address',
};

export type Verdict = { allowed: true } | { allowed: false; kind: string; allowable: boolean };

const ALLOWED: Verdict = { allowed: true };

function sameKind(a: Address, b: Address): boolean {
  return a.kind() === b.kind();
}

function inCidr(address: Address, cidr: Cidr): boolean {
  return sameKind(address, cidr[0]) && address.match(cidr);
}

function v4(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** The IPv4 addresses an IPv6 address carries (empty if none), and what the embedding is called. */
function embeddedIPv4(address: ipaddr.IPv6): { name: string; carried: ipaddr.IPv4[] } | null {
  const p = address.parts;
  switch (address.range() as string) {
    case 'ipv4Mapped':
      return { name: 'IPv4-mapped', carried: [v4(p[6]!, p[7]!)] };
    case 'rfc6145':
      return { name: 'IPv4-translated', carried: [v4(p[6]!, p[7]!)] };
    case 'rfc6052':
      // Only the well-known 64:ff9b::/96 has the IPv4 address at a fixed place; the local-use
      // 64:ff9b:1::/48 may put it anywhere, so it is refused as a whole (below).
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? { name: 'NAT64', carried: [v4(p[6]!, p[7]!)] } : null;
    case '6to4':
      return { name: '6to4', carried: [v4(p[1]!, p[2]!)] };
    case 'teredo':
      // The Teredo server, and the client's address (stored inverted).
      return { name: 'Teredo', carried: [v4(p[2]!, p[3]!), v4(p[6]! ^ 0xffff, p[7]! ^ 0xffff)] };
    case 'unicast':
      // IPv4-compatible (::a.b.c.d, deprecated): ipaddr.js calls it unicast.
      return p.slice(0, 6).every((part) => part === 0) ? { name: 'IPv4-compatible', carried: [v4(p[6]!, p[7]!)] } : null;
    default:
      return null;
  }
}

function judgeDirect(address: Address, allowed: readonly Cidr[]): Verdict {
  if (METADATA_ADDRESSES.some((metadata) => sameKind(metadata, address) && metadata.toString() === address.toString())) {
    return { allowed: false, kind: 'a cloud metadata address', allowable: false };
  }
  const range = address.range() as string;
  if (range === 'unicast') return ALLOWED;
  const allowable = ALLOWABLE[range];
  if (allowable) {
    return allowed.some((cidr) => inCidr(address, cidr)) ? ALLOWED : { allowed: false, kind: allowable, allowable: true };
  }
  return { allowed: false, kind: NEVER[range] ?? `an address of a special range (${range})`, allowable: false };
}

/** Decides whether the server may connect to `address` (canonical text, as from a URL or DNS). */
export function judgeAddress(address: string, allowed: readonly Cidr[]): Verdict {
  let parsed: Address;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return { allowed: false, kind: 'not an IP address', allowable: false };
  }
  if (parsed.kind() === 'ipv4') return judgeDirect(parsed, allowed);
  const v6 = parsed as ipaddr.IPv6;
  const embedding = embeddedIPv4(v6);
  if (!embedding) {
    if (v6.range() === 'rfc6052') return { allowed: false, kind: 'a local-use NAT64 address', allowable: false };
    return judgeDirect(v6, allowed);
  }
  for (const carried of embedding.carried) {
    const verdict = judgeDirect(carried, allowed);
    if (!verdict.allowed) return { ...verdict, kind: `${verdict.kind} (${carried.toString()}, ${embedding.name} in IPv6)` };
  }
  return ALLOWED;
}

/**
 * Parses SIGNET_OUTBOUND_ALLOWED_CIDRS: comma-separated CIDRs, each inside a loopback, private,
 * carrier-grade NAT or unique-local range. Throws an Error naming the first bad entry.
 */
export function parseAllowedCidrs(text: string): Cidr[] {
  const cidrs: Cidr[] = [];
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    let cidr: Cidr;
    try {
      cidr = ipaddr.parseCIDR(entry);
    } catch {
      throw new Error(`"${entry}" is not a CIDR (write e.g. 10.0.0.0/8 or fd00::/8)`);
    }
    const [network] = cidr;
    if (network.kind() === 'ipv6' && embeddedIPv4(network as ipaddr.IPv6)) {
      throw new Error(`"${entry}" carries IPv4 addresses inside IPv6: write the IPv4 range itself (e.g. 127.0.0.1/32)`);
    }
    const verdict = judgeDirect(network, []);
    if (!verdict.allowed && !verdict.allowable) {
      throw new Error(`"${entry}" covers ${verdict.kind}, where Signet never sends requests`);
    }
    if (!ALLOWABLE_CIDRS.some((range) => sameKind(range[0], network) && cidr[1] >= range[1] && network.match(range))) {
      throw new Error(
        `"${entry}" is not inside a loopback, private (RFC 1918), carrier-grade NAT (100.64.0.0/10) or unique-local (fc00::/7) range; ` +
          'public addresses need no allowing, and link-local, metadata, unspecified, multicast and reserved ones can never be allowed',
      );
    }
    cidrs.push(cidr);
  }
  return cidrs;
}

/** What the deprecated SIGNET_OUTBOUND_ALLOW_LOOPBACK=true stands for. */
export const LOOPBACK_CIDRS = '127.0.0.0/8,::1/128';

/** Why a host name is refused before it is resolved: names that always mean this machine. */
export function refusedHostName(hostname: string): string | null {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  if (name === '') return 'an empty host name';
  if (name === 'localhost' || name.endsWith('.localhost')) return 'a name for this machine (localhost)';
  return null;
}
