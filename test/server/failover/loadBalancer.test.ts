// Failover through the load balancer (SPEC §9): three nodes, each a process of its own, on one Redis,
// behind Debian's haproxy configured as deploy/haproxy.cfg; clients reach them only through it, over
// Socket.IO as the console connects and over REST. Under load, one node is killed (SIGKILL): its
// clients reconnect through the balancer to another node and resume by sequence number exactly
// (every event of the organization's stream they may see, none twice, in order), and every command
// acknowledged to anyone is in the audit log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../../server/store/redis.js';
import { redisKeys } from '../../../server/store/keys.js';
import { redisUrl, restCommand, seedOrg, signIn, startNode, testConfig, type TestOrg } from '../../helpers/signet.js';
import { spawnNodeProcess, type NodeProcess } from '../../helpers/nodeProcess.js';
import { startHaproxy, type Balancer } from '../../helpers/haproxy.js';
import { auditedTargets, killOnExit, until, visibleSeqs } from '../../helpers/failover.js';
import { connectConsole, runContinuously, type CommandLoad, type CommandOutcome, type ConsoleClient } from '../../helpers/consoleClient.js';

const CLIENTS = 6;
/** Acknowledgements each client must get before the kill, and again after it (so the cut-off ones are back). */
const ACKS = 5;
/** Bounds for a busy 2-core machine: how long reconnecting and getting acknowledgements may take. */
const ACKS_WITHIN_MS = 60_000;

const config = testConfig({ SIGNET_RATE_LIMIT_PER_MINUTE: '1000000' });
const keys = redisKeys(config.SIGNET_REDIS_PREFIX);
let org: TestOrg;
let nodes: NodeProcess[] = [];
let balancer: Balancer | null = null;
let redis: Redis;
let clients: ConsoleClient[] = [];
const via = () => ({ url: balancer!.url });

beforeAll(async () => {
  // The organization is made by a node of this test's own, which then leaves.
  const seeder = await startNode(config);
  org = await seedOrg(seeder);
  await seeder.close();
  nodes = await Promise.all([1, 2, 3].map((i) => spawnNodeProcess(config, { SIGNET_NODE_ID: `signet-${i}`, SIGNET_RATE_LIMIT_PER_MINUTE: '1000000' })));
  for (const node of nodes) killOnExit(node.child);
  balancer = await startHaproxy(nodes.map((node) => Number(new URL(node.url).port)));
  redis = await connectRedis(redisUrl());
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await balancer?.stop();
  await Promise.all(nodes.map((node) => node.kill()));
  redis?.disconnect();
});

/** Connected sockets per node, read from each node's /metrics (only to choose which node to kill). */
async function socketsOn(node: NodeProcess): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return Number(/^signet_sockets (\d+)/m.exec(text)?.[1] ?? 0);
}

/** How what a client received differs from what it should have, in a form a failure message can show. */
function compare(received: number[], expected: number[]) {
  const seen = new Set<number>();
  const twice: number[] = [];
  const outOfOrder: number[] = [];
  received.forEach((seq, i) => {
    if (seen.has(seq)) twice.push(seq);
    else if (i > 0 && seq < received[i - 1]!) outOfOrder.push(seq);
    seen.add(seq);
  });
  const wanted = new Set(expected);
  return { missing: expected.filter((seq) => !seen.has(seq)), twice, outOfOrder, unexpected: [...seen].filter((seq) => !wanted.has(seq)) };
}

describe('a node killed behind the load balancer', () => {
  it('its clients reconnect through the balancer to another node and resume exactly; no acknowledged command is lost', async () => {
    // Every sign-in first (each is audited): while clients connect, nothing else commits.
    const cookies = await Promise.all(Array.from({ length: CLIENTS + 1 }, () => signIn(via(), org.users.owner)));
    const restCookie = cookies.pop()!;
    clients = await Promise.all(cookies.map((cookie, i) => connectConsole(balancer!.url, { name: `c${i}`, cookie })));
    const firstSeq = new Map(clients.map((client) => [client, client.readies[0]!.seq]));

    const loads: CommandLoad[] = clients.map((client) =>
      runContinuously(
        (n) => client.command('project.create', { slug: `${client.name}-${n}`, name: `Project ${client.name} ${n}` }),
        () => client.whenReady(),
      ),
    );
    const restLoad = runContinuously(async (n): Promise<CommandOutcome> => {
      const response = await restCommand(via(), 'project.create', { slug: `rest-${n}`, name: `Project rest ${n}` }, { cookie: restCookie }).catch(() => null);
      if (response?.body.ok) return { ok: true, result: response.body.result };
      return { ok: false, error: { code: response?.body.error?.code ?? `HTTP ${response?.status ?? 'connection lost'}`, message: '' } as never };
    });
    const allLoads = [...loads, restLoad];
    await Promise.all(allLoads.map((load) => load.moreAcks(ACKS, ACKS_WITHIN_MS)));

    // The node holding the most of these sockets dies without a word.
    const counts = await Promise.all(nodes.map(socketsOn));
    const victim = nodes[counts.indexOf(Math.max(...counts))]!;
    const onVictim = Math.max(...counts);
    expect(onVictim).toBeGreaterThan(0);
    const killedAt = Date.now();
    await victim.kill(); // SIGKILL

    // Everyone keeps getting acknowledgements: the cut-off clients are back, through the balancer.
    await Promise.all(allLoads.map((load) => load.moreAcks(ACKS, ACKS_WITHIN_MS)));
    await Promise.all(allLoads.map((load) => load.stop()));
    const cutOff = clients.filter((client) => client.disconnects.some((cut) => cut.at >= killedAt));
    expect(cutOff).toHaveLength(onVictim);
    const survivors = nodes.filter((node) => node !== victim);
    expect((await Promise.all(survivors.map(socketsOn))).reduce((a, b) => a + b, 0)).toBe(CLIENTS);
    const failoverMs = cutOff.map((client) => {
      const cut = client.disconnects.find((d) => d.at >= killedAt)!;
      const back = client.readies.find((ready) => ready.at > cut.at)!;
      // Resumed from the last seq it had, not told to reload.
      expect(back.resumed, client.name).toBe(true);
      return back.at - cut.at;
    });
    console.info(`load balancer failover: ${cutOff.length} of ${CLIENTS} clients cut off; back after ${failoverMs.join(', ')} ms`);

    // Every acknowledged command, over either transport, is in the audit log with its project.
    const audited = await auditedTargets(redis, keys, org.orgId, 'project.create');
    const acked = allLoads.flatMap((load) => load.acked.map((result) => result.project.id as string));
    expect(acked.length).toBeGreaterThanOrEqual(2 * ACKS * allLoads.length);
    expect(acked.filter((id) => !audited.has(id))).toEqual([]);
    expect(await Promise.all(acked.map((id) => redis.exists(keys.project(id))))).not.toContain(0);

    // Once everything committed has reached them: each client has exactly what it may see of the
    // organization's stream since it first connected — in order, none missing, none twice.
    const owner = org.users.owner;
    const lastSeq = (await visibleSeqs(redis, keys, org.orgId, owner)).at(-1)!;
    await until('every client has the last event', 20_000, () => clients.every((client) => (client.lastSeq ?? 0) >= lastSeq));
    for (const client of clients) {
      const expected = await visibleSeqs(redis, keys, org.orgId, owner, firstSeq.get(client)!);
      expect(compare(client.received, expected), client.name).toEqual({ missing: [], twice: [], outOfOrder: [], unexpected: [] });
      expect(client.received, client.name).toEqual(expected);
    }
  }, 240_000);
});
