// One stuck reader must not slow everyone (issue 13): a socket whose client stops reading is
// disconnected once the output waiting for it passes SIGNET_MAX_SOCKET_BUFFER_BYTES, so the node's
// memory for it stays bounded, while everybody else's commands go on. And what one pass of the
// event loop sends a socket leaves in one write (issue 12: fewer writes per command).
//
// The stuck readers are raw WebSocket clients (the `ws` package) that speak just enough of the
// engine.io / Socket.IO protocol to connect as the owner, then stop reading from their TCP socket.
import { randomBytes } from 'node:crypto';
import type { Socket as TcpSocket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Socket as ServerSocket } from 'socket.io';
import type { SignetNode } from '../../server/index.js';
import { command, connect, ORIGIN, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../helpers/signet.js';

const CAP = 64 * 1024;
const STUCK = 5;
const WRITERS = 4;
const STUCK_AGENT = 'stuck-reader';

let node: SignetNode;
let org: TestOrg;
let ownerCookie: string;
const sockets: ClientSocket[] = [];
const raw: WebSocket[] = [];

beforeAll(async () => {
  node = await startNode(testConfig({ SIGNET_MAX_SOCKET_BUFFER_BYTES: String(CAP), SIGNET_RATE_LIMIT_PER_MINUTE: '1000000' }));
  org = await seedOrg(node);
  ownerCookie = await signIn(node, org.users.owner);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const ws of raw) ws.terminate();
  await node?.close();
});

/** Connects as the owner over a bare WebSocket, waits for `ready`, then stops reading. */
async function stuckReader(): Promise<WebSocket> {
  const ws = new WebSocket(`${node.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, {
    headers: { cookie: ownerCookie, origin: ORIGIN, 'user-agent': STUCK_AGENT },
  });
  raw.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (message) => {
      const text = message.toString();
      if (text.startsWith('0')) ws.send('40'); // engine.io open → Socket.IO connect (the cookie authenticates)
      if (text.startsWith('42["ready"')) resolve();
    });
  });
  ws.removeAllListeners('message');
  ws.pause();
  return ws;
}

function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

describe('a socket that stops reading', () => {
  it('is disconnected once its waiting output passes the cap; memory stays bounded and other clients go on', async () => {
    await Promise.all(Array.from({ length: STUCK }, stuckReader));
    const stuckOnServer = [...node.io.of('/').sockets.values()].filter((socket) => socket.handshake.headers['user-agent'] === STUCK_AGENT);
    expect(stuckOnServer).toHaveLength(STUCK);
    const cutOff = Promise.all(stuckOnServer.map((socket: ServerSocket) => new Promise<string>((resolve) => socket.once('disconnect', resolve))));
    let allCut = false;
    void cutOff.then(() => (allCut = true));

    // Writers update projects with long descriptions: each audit entry and change goes to every
    // owner socket, the stuck ones included, until all of those are cut off.
    const writers = await Promise.all(Array.from({ length: WRITERS }, () => connect(node, { cookie: ownerCookie })));
    sockets.push(...writers);
    const acks = await Promise.all(
      writers.map(async (writer, w) => {
        const created = await command<any>(writer, 'project.create', { slug: `busy-${w}`, name: `Busy ${w}` });
        let project = created.result.project;
        const answers: boolean[] = [];
        while (!allCut) {
          const ack = await command<any>(writer, 'project.update', { projectId: project.id, version: project.version, description: randomBytes(1000).toString('hex') });
          answers.push(ack.ok);
          if (ack.ok) project = ack.result;
        }
        return answers;
      }),
    );

    // Cut off by the node (the client never saw it: it does not read), each one counted. Its
    // output is dropped with the TCP connection, so Socket.IO reports the cut as a transport error.
    expect(await cutOff).toEqual(Array(STUCK).fill('transport error'));
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metric(metrics, 'signet_socket_buffer_disconnects_total')).toBe(STUCK);
    // What the node held for any one socket stayed at the cap plus the packet that passed it.
    expect(node.outputCap.peakBytes).toBeGreaterThan(CAP);
    expect(node.outputCap.peakBytes).toBeLessThan(CAP + 16 * 1024);
    // Everybody else: every command answered ok, and still connected.
    expect(acks.flat().every(Boolean)).toBe(true);
    expect(acks.flat().length).toBeGreaterThan(0);
    expect(writers.every((writer) => writer.connected)).toBe(true);
  }, 120_000);
});

describe('what one pass sends a socket', () => {
  it("leaves in one write: a commit's audit entry and its change go out in one write to the socket, the entry first", async () => {
    const owner = await connect(node, { cookie: ownerCookie });
    sockets.push(owner);
    const version = (await command<any>(owner, 'org.get', {})).result.version as number;
    const watcher = await connect(node, { cookie: ownerCookie });
    sockets.push(watcher);
    const changed = new Promise<void>((resolve) => watcher.on('change', (event: any) => event.data?.name === 'Written at once' && resolve()));

    // The watcher's TCP connection on the node (engine.io's `request.socket`): each write to it,
    // as the kernel gets it (a stream's _write or _writev call).
    const tcp = node.io.of('/').sockets.get(watcher.id!)!.conn.request.socket as TcpSocket & { _write: Function; _writev: Function };
    const writes: string[] = [];
    const text = (chunk: unknown) => (Buffer.isBuffer(chunk) ? chunk.toString('latin1') : String(chunk));
    const write = tcp._write.bind(tcp);
    const writev = tcp._writev.bind(tcp);
    tcp._write = (chunk: unknown, encoding: unknown, callback: unknown) => (writes.push(text(chunk)), write(chunk, encoding, callback));
    tcp._writev = (chunks: Array<{ chunk: unknown }>, callback: unknown) => (writes.push(chunks.map(({ chunk }) => text(chunk)).join('')), writev(chunks, callback));

    expect((await command<any>(owner, 'org.update', { name: 'Written at once', version })).ok).toBe(true);
    await changed;
    const withAudit = writes.filter((written) => written.includes('42["audit"') && written.includes('Written at once'));
    const withChange = writes.filter((written) => written.includes('42["change"') && written.includes('Written at once'));
    expect(withAudit).toHaveLength(1);
    expect(withChange).toEqual(withAudit);
    expect(withAudit[0]!.indexOf('42["audit"')).toBeLessThan(withAudit[0]!.indexOf('42["change"'));
  });
});
