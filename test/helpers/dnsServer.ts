// A real DNS server on loopback (UDP, packets encoded with dns-packet) for tests that need names to
// resolve, or to resolve differently over time (DNS rebinding). Each name gets a list of IPv4
// answers, handed out one per A query in order, the last one repeated; AAAA queries get no answer,
// unknown names NXDOMAIN. TTLs are 0, so nothing is cached.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import dnsPacket from 'dns-packet';

const NXDOMAIN = 3;

export interface TestDnsServer {
  /** "127.0.0.1:PORT", for a resolver's setServers(). */
  address: string;
  /** Answers A queries for `name` with these addresses, one per query, the last one repeated. */
  answer(name: string, addresses: string[]): void;
  /** How many A queries for `name` arrived. */
  queries(name: string): number;
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const answers = new Map<string, string[]>();
  const asked = new Map<string, number>();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, remote) => {
    let query;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    const known = answers.get(name);
    const records: dnsPacket.Answer[] = [];
    if (known && question.type === 'A') {
      const count = (asked.get(name) ?? 0) + 1;
      asked.set(name, count);
      records.push({ type: 'A', name: question.name, class: 'IN', ttl: 0, data: known[Math.min(count, known.length) - 1]! });
    }
    const response = dnsPacket.encode({
      id: query.id,
      type: 'response',
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : NXDOMAIN),
      questions: query.questions,
      answers: records,
    });
    socket.send(response, remote.port, remote.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    answer(name, addresses) {
      answers.set(name.toLowerCase(), addresses);
      asked.delete(name.toLowerCase());
    },
    queries: (name) => asked.get(name.toLowerCase()) ?? 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
