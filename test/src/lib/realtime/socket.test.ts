// The console's one socket (SPEC §7): it connects to an organization and asks its pages to load on
// the first `ready`; after a lost connection it reconnects by itself, sends the last sequence number
// it saw and receives what it missed, in order and once each, without a reload; when the server
// cannot resume (the events it missed are gone) it asks its pages to reload. Against a real Signet
// node, behind a TCP proxy that takes the network down; and, for the duplicate a correct server never
// sends, against a scripted Socket.IO server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../../server/index.js';
import { RealtimeClient, type ConnectionProblem } from '$lib/realtime/socket.svelte';
import type { ChangeEvent, ReadyEvent } from '$lib/shared/events';
import { ORIGIN, seedOrg, signIn, startNode, testConfig, type TestOrg } from '../../../helpers/signet.js';
import { startAuditWriter } from '../../../helpers/realtimeLoad.js';
import { startTcpProxy, type TcpProxy } from '../../../helpers/tcpProxy.js';
import { connectRealtime, socketTo } from '../../../helpers/realtimeClient.js';
import { startScriptedServer, type ScriptedServer } from '../../../helpers/scriptedServer.js';

/** What a client delivered to its subscribers, and a way to wait for more. */
function record<T>(what: string, subscribe: (handler: (item: T) => void) => unknown) {
  const items: T[] = [];
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  subscribe((item) => {
    items.push(item);
    for (const waiter of waiters.filter((w) => items.length >= w.count)) waiter.resolve();
    waiters = waiters.filter((w) => items.length < w.count);
  });
  return {
    items,
    /**
     * Resolves once `count` items in all have come. 20 s: a reconnect and its replay on a loaded
     * 2-core machine, not a performance bound; past it the test says what did not come.
     */
    until(count: number): Promise<void> {
      if (items.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${items.length} of ${count} ${what} came within 20 s`)), 20_000);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

/** Commits `count` audit entries in the organization (at least: a commit in flight when it stops completes too); resolves with how many. */
async function commitAuditEntries(node: SignetNode, orgId: string, count: number): Promise<number> {
  const writer = startAuditWriter(node, orgId, 1);
  await writer.after(count);
  await writer.stop();
  return writer.written;
}

describe('against a Signet node', () => {
  let node: SignetNode;
  let org: TestOrg;
  let cookie: string;
  let proxy: TcpProxy;
  const clients: RealtimeClient[] = [];

  beforeAll(async () => {
    // The least the node keeps (100 events): a client away for a few hundred has missed some for good.
    node = await startNode(testConfig({ SIGNET_EVENT_RETENTION: '100' }));
    org = await seedOrg(node);
    cookie = await signIn(node, org.users.admin);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(node.url).port) });
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await proxy?.close();
    await node?.close();
  });

  async function connectThroughProxy() {
    const client = new RealtimeClient(socketTo(`http://127.0.0.1:${proxy.port}`, { cookie, origin: ORIGIN }));
    clients.push(client);
    const resyncs = record<void>('resyncs', (handler) => client.onResync(() => handler()));
    const readies = record<ReadyEvent>('ready events', (handler) => client.on('ready', handler));
    const audit = record<number>('audit events', (handler) => client.on('audit', (event) => handler(event.seq)));
    client.connect(org.slug);
    await resyncs.until(1);
    return { client, resyncs, readies, audit };
  }

  it('connects to the organization and asks its pages to load once, on the first ready', async () => {
    const { client, resyncs, readies } = await connectThroughProxy();
    expect(client.state).toBe('connected');
    expect(client.org).toBe(org.slug);
    expect(client.lastSeq).toBe(readies.items[0]!.seq);
    expect(resyncs.items).toHaveLength(1);
    // A command goes over the same socket.
    const members = await client.command('member.list', {});
    expect(members.map((member) => member.email)).toContain(org.users.admin.email);
    client.disconnect();
    expect(client.state).toBe('idle');
  });

  it('after a lost connection it reconnects by itself and resumes from the last seq it saw: the missed events come once each, in order, with no reload', async () => {
    const { client, resyncs, readies, audit } = await connectThroughProxy();
    const live = await commitAuditEntries(node, org.orgId, 2);
    await audit.until(live);
    expect(client.lastSeq).toBe(audit.items.at(-1));

    proxy.pause();
    const tryingAgain = proxy.nextHeld();
    const missed = await commitAuditEntries(node, org.orgId, 3);
    await tryingAgain;
    expect(client.state).toBe('reconnecting');
    proxy.resume();

    await readies.until(2);
    await audit.until(live + missed);
    expect(readies.items[1]).toMatchObject({ resumed: true, replayed: missed });
    expect(client.state).toBe('connected');
    // Each once, in order: every seq above the one before.
    expect(audit.items.every((seq, i) => i === 0 || seq > audit.items[i - 1]!)).toBe(true);
    expect(client.lastSeq).toBe(audit.items.at(-1));
    expect(resyncs.items).toHaveLength(1);

    // Live again: the next event comes as before.
    const more = await commitAuditEntries(node, org.orgId, 1);
    await audit.until(live + missed + more);
    client.disconnect();
  });

  it('away longer than the node keeps events, it cannot resume: its pages are asked to reload, and it follows on from the current seq', async () => {
    const { client, resyncs, readies, audit } = await connectThroughProxy();
    const lastSeen = client.lastSeq!;
    proxy.pause();
    const tryingAgain = proxy.nextHeld();
    await commitAuditEntries(node, org.orgId, 300);
    await tryingAgain;
    proxy.resume();

    await readies.until(2);
    await resyncs.until(2);
    const ready = readies.items[1]!;
    expect(ready.resumed).toBe(false);
    expect(client.lastSeq).toBeGreaterThanOrEqual(ready.seq);
    expect(ready.seq).toBeGreaterThanOrEqual(lastSeen + 300);

    const before = audit.items.length;
    await commitAuditEntries(node, org.orgId, 1);
    await audit.until(before + 1);
    expect(audit.items.at(-1)).toBeGreaterThan(ready.seq);
    client.disconnect();
  });

  it('a refused handshake (no session) ends the connection for good: no retry, and the reason is told', async () => {
    const client = new RealtimeClient(socketTo(node.url, { origin: ORIGIN }));
    const ends = record<ConnectionProblem>('ends', (handler) => client.onEnd(handler));
    client.connect(org.slug);
    await ends.until(1);
    expect(client.state).toBe('refused');
    expect(ends.items[0]!.code).toBe('UNAUTHENTICATED');
    expect(client.problem).toEqual(ends.items[0]);
    client.disconnect();
  });
});

describe('against a scripted server', () => {
  let server: ScriptedServer;

  beforeAll(async () => {
    server = await startScriptedServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('drops an event whose seq it already delivered (a safety net), and a reconnect sends the highest seq it saw', async () => {
    server.seq = 10;
    const client = await connectRealtime(server.url, 'acme');
    expect(server.handshakes).toEqual([{ org: 'acme' }]);
    const delivered = record<number>('change events', (handler) => client.on('change', (event) => handler(event.seq)));
    // Only the sequence number matters here: the client de-duplicates before anyone reads the data.
    const change = (seq: number) => ({ seq, entity: 'project', id: `p${seq}`, op: 'updated' }) as unknown as ChangeEvent;
    for (const seq of [11, 12, 11, 12, 13]) server.io.emit('change', change(seq));
    await delivered.until(3);
    expect(delivered.items).toEqual([11, 12, 13]);
    expect(client.lastSeq).toBe(13);

    // The connection drops under both ends: Socket.IO reconnects by itself, with a fresh handshake.
    const readies = record<ReadyEvent>('ready events', (handler) => client.on('ready', handler));
    for (const socket of server.io.sockets.sockets.values()) socket.conn.close();
    await readies.until(1);
    expect(server.handshakes.at(-1)).toEqual({ org: 'acme', lastSeq: 13 });
    client.disconnect();
  });
});
