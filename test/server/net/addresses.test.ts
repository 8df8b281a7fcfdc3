// Which addresses the server may send requests to (server/net/addresses.ts), as properties over
// generated addresses: an IPv4 address inside IPv6 is judged as itself, whatever the embedding and
// however the URL spells it; what can never be allowed stays refused whatever an operator lists.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeAddress, parseAllowedCidrs } from '../../../server/net/addresses.js';
import { createOutboundClient } from '../../../server/net/outbound.js';

const NONE = parseAllowedCidrs('');
const SOME = parseAllowedCidrs('127.0.0.0/8,10.0.0.0/8,100.64.0.0/10,fd00::/8');

const anyOctets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
/** Any IPv4 address, half of them from the special ranges (loopback, private, link-local, …). */
const octets = fc.oneof(
  anyOctets,
  fc.tuple(fc.constantFrom([127], [10], [0], [169, 254], [192, 168], [172, 16], [100, 64], [100, 100, 100], [224], [255, 255, 255]), anyOctets).map(
    ([prefix, rest]) => [...prefix, ...rest.slice(prefix.length)],
  ),
);
const hex16 = (value: number) => (value & 0xffff).toString(16);
const dotted = ([a, b, c, d]: number[]) => `${a}.${b}.${c}.${d}`;
const high = ([a, b]: number[]) => (a! << 8) | b!;
const low = ([, , c, d]: number[]) => (c! << 8) | d!;

/** Every way IPv6 carries an IPv4 address (Teredo: a public server, the client inverted). */
const EMBEDDINGS: Record<string, (v4: number[]) => string> = {
  'IPv4-mapped': (v4) => `::ffff:${dotted(v4)}`,
  'IPv4-mapped, hex': (v4) => `::ffff:${hex16(high(v4))}:${hex16(low(v4))}`,
  'IPv4-translated': (v4) => `::ffff:0:${dotted(v4)}`,
  'IPv4-compatible': (v4) => `::${hex16(high(v4))}:${hex16(low(v4))}`,
  NAT64: (v4) => `64:ff9b::${dotted(v4)}`,
  '6to4': (v4) => `2002:${hex16(high(v4))}:${hex16(low(v4))}::1`,
  Teredo: (v4) => `2001:0:4136:e378:8000:63bf:${hex16(~high(v4))}:${hex16(~low(v4))}`,
};

describe('judging addresses', () => {
  it('an IPv4 address carried in IPv6 gets the verdict of the IPv4 address, in every embedding', () => {
    fc.assert(
      fc.property(octets, fc.constantFrom(...Object.keys(EMBEDDINGS)), fc.constantFrom(NONE, SOME), (v4, embedding, allowed) => {
        const direct = judgeAddress(dotted(v4), allowed).allowed;
        expect(judgeAddress(EMBEDDINGS[embedding]!(v4), allowed).allowed).toBe(direct);
      }),
      { numRuns: 2000 },
    );
  });

  it('however a URL spells an IPv4 host (decimal, hex, octal, short forms), it is judged as the address it means', async () => {
    const strict = createOutboundClient({ allowedCidrs: NONE });
    await fc.assert(
      fc.asyncProperty(octets, async (v4) => {
        const n = ((v4[0]! << 24) | (v4[1]! << 16) | (v4[2]! << 8) | v4[3]!) >>> 0;
        const spellings = [
          String(n),
          `0x${n.toString(16)}`,
          `0${n.toString(8)}`,
          v4.map((octet) => `0x${octet.toString(16)}`).join('.'),
          v4.map((octet) => `0${octet.toString(8)}`).join('.'),
          `${v4[0]}.${v4[1]}.${(v4[2]! << 8) | v4[3]!}`,
          `${v4[0]}.${(v4[1]! << 16) | (v4[2]! << 8) | v4[3]!}`,
          `${dotted(v4)}.`,
          `[::ffff:${dotted(v4)}]`,
        ];
        const refused = !judgeAddress(dotted(v4), NONE).allowed;
        for (const spelling of spellings) {
          const outcome = await strict.checkUrl(`http://${spelling}:8080/hook`).then(() => 'accepted', () => 'refused');
          expect(outcome, spelling).toBe(refused ? 'refused' : 'accepted');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('link-local, multicast, unspecified and metadata addresses are refused whatever is allowed', () => {
    const everythingAllowable = parseAllowedCidrs('127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,::1/128,fc00::/7');
    const v6 = (prefix: number, prefixBits: number) =>
      fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((parts) => {
        parts[0] = (prefix & (0xffff << (16 - prefixBits))) | (parts[0]! & (0xffff >> prefixBits));
        return parts.map(hex16).join(':');
      });
    const never = fc.oneof(
      anyOctets.map(([, , c, d]) => `169.254.${c}.${d}`),
      anyOctets.map(([a, b, c, d]) => `${224 + (a % 16)}.${b}.${c}.${d}`),
      anyOctets.map(([, b, c, d]) => `0.${b}.${c}.${d}`),
      v6(0xfe80, 10),
      v6(0xff00, 8),
      fc.constantFrom('169.254.169.254', '100.100.100.200', 'fd00:ec2::254', '::ffff:169.254.169.254', '255.255.255.255', '::'),
    );
    fc.assert(
      fc.property(never, (address) => {
        expect(judgeAddress(address, everythingAllowable), address).toMatchObject({ allowed: false, allowable: false });
      }),
      { numRuns: 1000 },
    );
  });

  it('public addresses are allowed; private, CGNAT, unique-local and loopback ones only inside an allowed CIDR', () => {
    for (const address of ['8.8.8.8', '93.184.215.14', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(judgeAddress(address, NONE).allowed, address).toBe(true);
    for (const [address, kind] of [
      ['10.1.2.3', 'a private address'],
      ['172.31.255.1', 'a private address'],
      ['192.168.0.1', 'a private address'],
      ['100.64.0.1', 'a carrier-grade NAT address'],
      ['fd12:3456::1', 'a unique-local address'],
      ['127.0.0.1', 'a loopback address'],
      ['::1', 'a loopback address'],
    ]) {
      expect(judgeAddress(address!, NONE), address).toEqual({ allowed: false, kind, allowable: true });
    }
    expect(judgeAddress('10.1.2.3', parseAllowedCidrs('10.1.0.0/16')).allowed).toBe(true);
    expect(judgeAddress('10.2.0.1', parseAllowedCidrs('10.1.0.0/16')).allowed).toBe(false);
    expect(judgeAddress('::ffff:10.1.2.3', parseAllowedCidrs('10.1.0.0/16')).allowed).toBe(true);
    expect(judgeAddress('fd12::1', SOME).allowed).toBe(true);
    // Inside an allowed range, a metadata address stays refused.
    expect(judgeAddress('100.100.100.200', SOME)).toMatchObject({ allowed: false, kind: 'a cloud metadata address' });
    expect(judgeAddress('fd00:ec2::254', SOME)).toMatchObject({ allowed: false, kind: 'a cloud metadata address' });
  });

  it('the outbound client refuses a private URL by default and accepts it inside an allowed CIDR', async () => {
    await expect(createOutboundClient({ allowedCidrs: NONE }).checkUrl('http://10.1.2.3/hook')).rejects.toThrow('the URL is not allowed: 10.1.2.3 is a private address');
    await expect(createOutboundClient({ allowedCidrs: parseAllowedCidrs('10.0.0.0/8') }).checkUrl('http://10.1.2.3/hook')).resolves.toBeUndefined();
  });
});

describe('SIGNET_OUTBOUND_ALLOWED_CIDRS', () => {
  it('takes loopback, private, CGNAT and unique-local ranges', () => {
    expect(parseAllowedCidrs(' 127.0.0.1/32, 10.0.0.0/8 ,fd00::/8,100.64.0.0/10,::1/128,').map(([address, bits]) => `${address}/${bits}`)).toEqual([
      '127.0.0.1/32',
      '10.0.0.0/8',
      'fd00::/8',
      '100.64.0.0/10',
      '::1/128',
    ]);
  });

  for (const [entry, why] of [
    ['169.254.0.0/16', 'covers a link-local address, where Signet never sends requests'],
    ['169.254.169.254/32', 'covers a cloud metadata address, where Signet never sends requests'],
    ['fe80::/10', 'covers a link-local address, where Signet never sends requests'],
    ['224.0.0.0/4', 'covers a multicast address, where Signet never sends requests'],
    ['0.0.0.0/0', 'covers an unspecified address, where Signet never sends requests'],
    ['::ffff:127.0.0.1/128', 'carries IPv4 addresses inside IPv6: write the IPv4 range itself (e.g. 127.0.0.1/32)'],
    ['8.8.8.0/24', 'is not inside a loopback, private (RFC 1918), carrier-grade NAT'],
    ['10.0.0.0/7', 'is not inside a loopback, private (RFC 1918), carrier-grade NAT'],
    ['10.0.0.0', 'is not a CIDR'],
    ['ten', 'is not a CIDR'],
  ]) {
    it(`refuses ${entry}, naming it`, () => {
      expect(() => parseAllowedCidrs(`127.0.0.1/32,${entry}`)).toThrow(`"${entry}" ${why}`);
    });
  }
});
