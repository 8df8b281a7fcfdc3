// SIGTERM drains a node (SPEC §9, issue 13): it stops accepting, answers every command in flight,
// closes keep-alive HTTP connections and sockets so clients go to another node, and exits within
// SIGNET_DRAIN_TIMEOUT_MS, logging each phase as a JSON line. The node runs in a child process and
// gets a real SIGTERM; Redis is this file's own, paused (SIGSTOP) so that commands are surely in
// flight when the signal arrives.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type Socket as NetSocket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../server/config.js';
import type { SignetNode } from '../../server/index.js';
import { spawnRedisServer } from '../../server/store/localRedis.js';
import { auditLog, command, connect, ORIGIN, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestAck, type TestOrg } from '../helpers/signet.js';
import { spawnNodeProcess, type NodeProcess } from '../helpers/nodeProcess.js';

const IN_FLIGHT = 24;

let dir: string;
let redis: Awaited<ReturnType<typeof spawnRedisServer>>;
let config: Config;
let org: TestOrg;
let ownerCookie: string;
/** A node of the same installation in this process, to read what the drained one left behind. */
let survivor: SignetNode;
const sockets: ClientSocket[] = [];
const children: NodeProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'signet-drain-'));
  redis = await spawnRedisServer({ dir });
  config = testConfig({ SIGNET_RATE_LIMIT_PER_MINUTE: '100000' });
  survivor = await startNode(config, redis.url);
  org = await seedOrg(survivor);
  ownerCookie = await signIn(survivor, org.users.owner);
});

afterEach(() => {
  redis.child.kill('SIGCONT');
  for (const socket of sockets.splice(0)) socket.close();
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
});

afterAll(async () => {
  await survivor?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The node's own count of commands in flight (signet_commands_in_flight on /metrics). */
async function commandsInFlight(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^signet_commands_in_flight (\d+)/m.exec(text)?.[1] ?? NaN);
}

interface RestOutcome {
  slug: string;
  /** Sent after the test had read the node's "stopped accepting" line: it reached a draining node. */
  sentAfterDrainBegan: boolean;
  status?: number;
  connection?: string;
  body?: any;
  error?: string;
}

/**
 * One HTTP/1.1 connection written by hand, so a request can be sent on it while the one before is
 * still running (the connection is then busy, not idle). Resolves, once the node closes it, with
 * the responses it got.
 */
function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let received = Buffer.alloc(0);
  socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
  const closed = new Promise<Array<{ status: number; headers: Record<string, string>; body: any }>>((resolve) =>
    socket.once('close', () => {
      const responses = [];
      let text = received.toString('utf8');
      while (text.startsWith('HTTP/1.1 ')) {
        const headEnd = text.indexOf('\r\n\r\n');
        const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
        const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
        const length = Number(headers['content-length']);
        responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(text.slice(headEnd + 4, headEnd + 4 + length)) });
        text = text.slice(headEnd + 4 + length);
      }
      resolve(responses);
    }),
  );
  return {
    send(slug: string) {
      const body = JSON.stringify({ slug, name: slug });
      socket.write(
        `POST /api/v1/commands/project.create HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `Cookie: ${ownerCookie}\r\nOrigin: ${ORIGIN}\r\nConnection: keep-alive\r\n\r\n${body}`,
      );
    },
    closed,
  };
}

/** A CI-like client: one keep-alive connection, one project.create after another, until the node is gone. */
function keepAliveClient(url: string, drainBegan: () => boolean) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const outcomes: RestOutcome[] = [];
  let answeredOnce!: () => void;
  const firstAnswer = new Promise<void>((resolve) => (answeredOnce = resolve));
  const connections = new Map<NetSocket, { closed: boolean }>();
  const post = (slug: string) =>
    new Promise<Omit<RestOutcome, 'slug' | 'sentAfterDrainBegan'>>((resolve) => {
      const body = JSON.stringify({ slug, name: slug });
      const request = http.request(`${url}/api/v1/commands/project.create`, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), cookie: ownerCookie, origin: ORIGIN },
      });
      request.on('socket', (socket) => {
        if (connections.has(socket)) return;
        const state = { closed: false };
        connections.set(socket, state);
        socket.once('close', () => (state.closed = true));
      });
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, connection: response.headers.connection, body: JSON.parse(text) }));
      });
      request.on('error', (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
      request.end(body);
    });
  const done = (async () => {
    for (let i = 0; ; i++) {
      const slug = `rest-${i}`;
      const sentAfterDrainBegan = drainBegan();
      const outcome = { slug, sentAfterDrainBegan, ...(await post(slug)) };
      outcomes.push(outcome);
      if (outcome.status === 200) answeredOnce();
      if (outcome.error) return;
    }
  })();
  return { outcomes, connections, done, agent, firstAnswer };
}

describe('SIGTERM', () => {
  it('drains: in-flight commands are answered, the keep-alive client is cut off, nothing is applied after, and the node exits', async () => {
    // Commands must outlast the pause below; the deadline is not what this test is about.
    const child = await spawnNodeProcess(config, { SIGNET_COMMAND_DEADLINE_MS: '20000', SIGNET_DRAIN_TIMEOUT_MS: '15000', SIGNET_NODE_ID: 'drained', SIGNET_MAX_SOCKETS_PER_USER: '100' }, { redisUrl: redis.url });
    children.push(child);
    const clients = await Promise.all(Array.from({ length: IN_FLIGHT }, () => connect({ url: child.url } as SignetNode, { cookie: ownerCookie })));
    sockets.push(...clients);

    let drainBegan = false;
    const rest = keepAliveClient(child.url, () => drainBegan);
    // Once answered, its connection is a kept-alive one.
    await rest.firstAnswer;

    redis.child.kill('SIGSTOP');
    const acks: Array<Promise<TestAck>> = clients.map((socket, i) => command(socket, 'project.create', { slug: `sock-${i}`, name: `sock-${i}` }));
    const busy = rawConnection(child.url);
    busy.send('busy-before');
    // The sockets' commands, the REST client's one and the busy connection's are all waiting for Redis.
    while ((await commandsInFlight(child.url)) < IN_FLIGHT + 2) await new Promise((resolve) => setTimeout(resolve, 50));

    child.child.kill('SIGTERM');
    await child.logged((line) => line.drain === 'stop-accepting');
    drainBegan = true;
    // Another command on the busy connection, now that the node is draining.
    busy.send('busy-after');
    redis.child.kill('SIGCONT');

    // Every command that was in flight is answered, and applied.
    const answered = await Promise.all(acks);
    expect(answered.map((ack) => ack.ok)).toEqual(Array(IN_FLIGHT).fill(true));
    // The sockets are closed by the node, so their clients reconnect elsewhere.
    await Promise.all(clients.map((socket) => (socket.connected ? new Promise((resolve) => socket.once('disconnect', resolve)) : null)));

    const exit = await child.exited;
    expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
    await rest.done;
    rest.agent.destroy();

    // Each phase is one JSON line, in order, and the drain finished inside its bound.
    const phases = child.logs.filter((line) => line.drain).map((line) => line.drain);
    expect(phases).toEqual(['stop-accepting', 'commands', 'connections', 'jobs', 'done']);
    expect(child.logs.find((line) => line.drain === 'stop-accepting')).toMatchObject({ commandsInFlight: expect.any(Number), timeoutMs: 15000 });
    expect(child.logs.find((line) => line.drain === 'commands')).toMatchObject({ answered: true, commandsInFlight: 0 });
    expect(child.logs.find((line) => line.drain === 'done')).toMatchObject({ drained: true });

    // The keep-alive client: its connection was closed by the node; whatever it sent once the
    // drain had begun was refused (UNAVAILABLE, Connection: close) or found nobody listening.
    expect([...rest.connections.values()].every((state) => state.closed)).toBe(true);
    for (const outcome of rest.outcomes.filter((o) => o.sentAfterDrainBegan)) {
      if (outcome.status !== undefined) {
        expect(outcome).toMatchObject({ status: 503, connection: 'close', body: { error: { code: 'UNAVAILABLE', message: expect.stringContaining('shutting down') } } });
      } else {
        expect(outcome.error).toMatch(/ECONNREFUSED|ECONNRESET/);
      }
    }

    // On the busy connection: the command sent before the drain is answered (and applied); the one
    // sent after is refused — or, pipelined behind the first, left unanswered when the node closes
    // the connection (an unanswered pipelined request was not processed) — and not applied.
    const [before, after, ...more] = await busy.closed;
    expect(before).toMatchObject({ status: 200, body: { ok: true } });
    if (after) expect(after).toMatchObject({ status: 503, headers: { connection: 'close' }, body: { error: { code: 'UNAVAILABLE' } } });
    expect(more).toEqual([]);

    // Applied ⇔ acknowledged: the audit log has exactly the creations that were answered ok.
    const created = (await auditLog(survivor, org.orgId)).filter((entry) => entry.action === 'project.create').map((entry) => entry.target.name);
    const acknowledged = [
      ...answered.map((ack) => ack.result.project.name as string),
      ...rest.outcomes.filter((outcome) => outcome.status === 200).map((outcome) => outcome.slug),
      'busy-before',
    ];
    expect(created.sort()).toEqual(acknowledged.sort());
  }, 90_000);

  it('exits within SIGNET_DRAIN_TIMEOUT_MS even when commands cannot finish; retries with their request ids at another node apply each once', async () => {
    const child = await spawnNodeProcess(config, { SIGNET_COMMAND_DEADLINE_MS: '20000', SIGNET_DRAIN_TIMEOUT_MS: '1000', SIGNET_NODE_ID: 'stuck', SIGNET_MAX_SOCKETS_PER_USER: '100' }, { redisUrl: redis.url });
    children.push(child);
    const clients = await Promise.all(Array.from({ length: 4 }, () => connect({ url: child.url } as SignetNode, { cookie: ownerCookie })));
    sockets.push(...clients);
    const attempts = clients.map((_, i) => ({ input: { slug: `stuck-${i}`, name: `stuck-${i}` }, requestId: randomUUID() }));

    redis.child.kill('SIGSTOP');
    const unanswered = clients.map((socket, i) => command(socket, 'project.create', attempts[i]!.input, { requestId: attempts[i]!.requestId }));
    while ((await commandsInFlight(child.url)) < clients.length) await new Promise((resolve) => setTimeout(resolve, 50));
    child.child.kill('SIGTERM');

    // Redis stays paused: the drain gives up waiting at its bound and the process ends.
    const exit = await child.exited;
    expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
    expect(child.logs.find((line) => line.drain === 'commands')).toMatchObject({ answered: false });
    expect(child.logs.find((line) => line.drain === 'done')).toMatchObject({ drained: false });
    redis.child.kill('SIGCONT');
    void unanswered;

    // The console retries with the same request id at another node: each creation happens once.
    const elsewhere = await connect(survivor, { cookie: ownerCookie });
    sockets.push(elsewhere);
    for (const attempt of attempts) {
      const ack = await command<any>(elsewhere, 'project.create', attempt.input, { requestId: attempt.requestId });
      expect(ack).toMatchObject({ ok: true, result: { project: { slug: attempt.input.slug } } });
    }
    const created = (await auditLog(survivor, org.orgId)).filter((entry) => entry.action === 'project.create' && entry.target.name.startsWith('stuck-'));
    expect(created.map((entry) => entry.target.name).sort()).toEqual(attempts.map((attempt) => attempt.input.name).sort());
  }, 90_000);
});
