// Revocation travels in the ordered commit feed (SPEC §7, issue 13): every node applies a demotion or
// a revoked key to its sockets before it delivers anything committed after it — under concurrent
// traffic, and on a node that was paused (SIGSTOP) while it happened.
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { permissionRoom } from '../../../server/realtime/rooms.js';
import {
  command,
  connect,
  nextEvent,
  seedOrg,
  signIn,
  testConfig,
  type ClientSocket,
  type TestOrg,
} from '../../helpers/signet.js';
import { seenThrough, sequenced, startAuditWriter } from '../../helpers/realtimeLoad.js';
import { spawnNodeProcess, type NodeProcess } from '../../helpers/nodeProcess.js';
import { useSignet } from '../../helpers/signetFixture.js';

const config = testConfig();
const fx = useSignet({ config: () => config, org: false });
let nodeA: SignetNode;
let nodeB: SignetNode;
const sockets: ClientSocket[] = [];
const processes: NodeProcess[] = [];

beforeAll(async () => {
  nodeA = fx.node;
  nodeB = await fx.startNode({ ...config, nodeId: 'node-b' });
  fx.onClose(async () => {
    for (const socket of sockets) socket.close();
    for (const child of processes) await child.kill();
  });
});

async function open(node: { url: string }, options: Parameters<typeof connect>[1]): Promise<ClientSocket> {
  const socket = await connect(node as SignetNode, options);
  sockets.push(socket);
  return socket;
}

async function memberVersion(owner: ClientSocket, userId: string): Promise<number> {
  const members = await command<any[]>(owner, 'member.list');
  return members.result!.find((m) => m.userId === userId).version;
}

/** The event sequence number of the audit entry a command wrote, as an observer that may read the audit log saw it. */
function auditSeq(observer: ClientSocket, action: string, targetId: string): number {
  const entry = sequenced(observer).findLast((e) => e.event === 'audit' && e.data.entry.action === action && e.data.entry.target.id === targetId);
  if (!entry) throw new Error(`the observer never saw ${action} on ${targetId}`);
  return entry.seq;
}

/** Audit entries a socket received that were committed after the one at `seq`. */
const auditsAfter = (socket: ClientSocket, seq: number) => sequenced(socket).filter((e) => e.event === 'audit' && e.seq > seq);

describe('under concurrent traffic', () => {
  let org: TestOrg;
  let owner: ClientSocket;
  let observer: ClientSocket;

  beforeAll(async () => {
    org = await seedOrg(nodeA);
    owner = await open(nodeB, { cookie: await signIn(nodeB, org.users.owner) });
    // The owner's second socket, on the revoked socket's node: it sees every audit entry.
    observer = await open(nodeA, { cookie: await signIn(nodeA, org.users.owner) });
  });

  it('a demoted admin receives no audit entry committed after the demotion, while another node commits as fast as it can', async () => {
    const adminCookie = await signIn(nodeA, org.users.admin);
    const leaks: number[] = [];
    // Three demotions, each with the writer running on node B and the admin's socket on node A.
    for (let round = 0; round < 3; round += 1) {
      if (round > 0) {
        const promoted = await command(owner, 'member.changeRole', { userId: org.users.admin.userId, role: 'admin', version: await memberVersion(owner, org.users.admin.userId) });
        expect(promoted.ok).toBe(true);
      }
      const admin = await open(nodeA, { cookie: adminCookie });
      const writer = startAuditWriter(nodeB, org.orgId);
      await writer.after(30);
      // The admin really was in the audit feed while the writer ran.
      await nextEvent(admin, 'audit', (event) => event.entry.action === 'load.write', 10_000);
      const demoted = await command(owner, 'member.changeRole', { userId: org.users.admin.userId, role: 'viewer', version: await memberVersion(owner, org.users.admin.userId) });
      expect(demoted.ok).toBe(true);
      await writer.after(30);
      await writer.stop();
      // Once the observer on node A has the last entry, node A has delivered everything (20 s: a
      // loaded machine, not a performance bound).
      await seenThrough(observer, Number(await nodeA.signet.redis.get(nodeA.signet.keys.eventSeq(org.orgId))), 20_000);
      const demotionSeq = auditSeq(observer, 'member.changeRole', org.users.admin.userId);
      expect(sequenced(observer).filter((e) => e.event === 'audit' && e.seq > demotionSeq).length).toBeGreaterThan(0);
      leaks.push(auditsAfter(admin, demotionSeq).length);
      observer.received.length = 0;
      admin.close();
    }
    expect(leaks).toEqual([0, 0, 0]);
    // Node B timed each change of access (three demotions, two promotions) until node A confirmed it.
    const metrics = await (await fetch(`${nodeB.url}/metrics`)).text();
    expect(metrics).toMatch(/^signet_revocation_confirmation_duration_seconds_count 5$/m);
  });

  it('a revoked API key receives no audit entry committed after its revocation, while another node commits as fast as it can', async () => {
    const adminSocket = await open(nodeB, { cookie: await signIn(nodeB, org.users.owner) });
    const leaks: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      const created = await command<any>(adminSocket, 'apiKey.create', { name: `audit reader ${round}`, permissions: ['audit:read'] });
      expect(created.ok).toBe(true);
      const keySocket = await open(nodeA, { token: created.result.token });
      const cutOff = nextEvent(keySocket, 'revoked', () => true, 20_000);
      const writer = startAuditWriter(nodeB, org.orgId);
      await writer.after(30);
      await nextEvent(keySocket, 'audit', (event) => event.entry.action === 'load.write', 10_000);
      const revoked = await command(adminSocket, 'apiKey.revoke', { keyId: created.result.apiKey.id });
      expect(revoked.ok).toBe(true);
      await writer.after(30);
      await writer.stop();
      await cutOff;
      // Once the observer on node A has the last entry, node A has delivered everything (20 s: a
      // loaded machine, not a performance bound).
      await seenThrough(observer, Number(await nodeA.signet.redis.get(nodeA.signet.keys.eventSeq(org.orgId))), 20_000);
      const revocationSeq = auditSeq(observer, 'apiKey.revoke', created.result.apiKey.id);
      leaks.push(auditsAfter(keySocket, revocationSeq).length);
      observer.received.length = 0;
    }
    expect(leaks).toEqual([0, 0, 0]);
  });
});

describe('a node that lost the commit channel while an admin on it was demoted', () => {
  it('has the admin resume as what it is now: replayed none of the audit entries it can no longer read', async () => {
    const org = await seedOrg(nodeA);
    const owner = await open(nodeA, { cookie: await signIn(nodeA, org.users.owner) });
    const adminCookie = await signIn(nodeB, org.users.admin);
    const admin = await open(nodeB, { cookie: adminCookie });
    const lastSeq = admin.ready.seq;
    const version = await memberVersion(owner, org.users.admin.userId);
    const clients = String(await nodeA.signet.redis.call('CLIENT', 'LIST'));
    const line = clients.split('\n').find((entry) => entry.includes(`name=signet-commits-${nodeB.signet.commitOrigin}`))!;
    const cutOff = new Promise<string>((resolve) => admin.once('disconnect', resolve));
    // Node B's subscription drops (as when Redis closes a subscriber that fell behind); B is back by itself.
    await nodeA.signet.redis.call('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!);
    expect((await command(owner, 'member.changeRole', { userId: org.users.admin.userId, role: 'viewer', version })).ok).toBe(true);
    expect((await command(owner, 'member.invite', { email: 'after.demotion@example.com', role: 'member' })).ok).toBe(true);
    expect(await cutOff).toBe('io server disconnect');
    const resumed = await open(nodeB, { cookie: adminCookie, lastSeq });
    expect(resumed.ready.resumed).toBe(true);
    // The member change and the invitation's audit entry happened after lastSeq; as a viewer it is
    // replayed the former (team:read) and not the latter.
    expect(sequenced(resumed).filter((e) => e.event === 'audit')).toEqual([]);
    expect(sequenced(resumed).some((e) => e.event === 'change' && e.data.entity === 'member' && e.data.data?.role === 'viewer')).toBe(true);
  });
});

describe('a node paused while an admin connected to it is demoted', () => {
  it('delivers none of what was committed after the demotion when it resumes, and drops the admin from the audit feed at once', async () => {
    // Node A is a process of its own, so that it can be paused for real.
    const paused = await spawnNodeProcess(config, { SIGNET_NODE_ID: 'paused' });
    processes.push(paused);
    const org = await seedOrg(nodeB);
    const owner = await open(nodeB, { cookie: await signIn(nodeB, org.users.owner) });
    const admin = await open(paused, { cookie: await signIn(nodeB, org.users.admin) });
    // A second reader on the paused node, to know when that node has delivered everything.
    const observer = await open(paused, { cookie: await signIn(nodeB, org.users.owner) });
    const version = await memberVersion(owner, org.users.admin.userId);

    paused.child.kill('SIGSTOP');
    try {
      const demoted = await command(owner, 'member.changeRole', { userId: org.users.admin.userId, role: 'viewer', version });
      expect(demoted.ok).toBe(true);
      const writer = startAuditWriter(nodeB, org.orgId, 1);
      await writer.after(20);
      await writer.stop();
    } finally {
      paused.child.kill('SIGCONT');
    }
    // One more entry, committed after the node resumed: once the observer has it, the node has
    // worked through everything it missed while paused (in order). 45 s: a loaded 2-core machine
    // catching up a paused process, not a performance bound.
    const last = await nextEvent(observer, 'audit', (event) => event.entry.action === 'load.write' && event.entry.target.name === 'load 0:19', 45_000);
    const demotionSeq = auditSeq(observer, 'member.changeRole', org.users.admin.userId);
    expect(last.seq).toBeGreaterThan(demotionSeq);
    expect(auditsAfter(admin, demotionSeq)).toEqual([]);
    expect(admin.connected).toBe(true);
    // And the node took the admin's socket out of the audit room then, not at its 30 s re-check:
    // asked through node B (the adapter reaches the paused node's sockets).
    const [remote] = await nodeB.io.in(admin.id!).fetchSockets();
    expect(remote).toBeDefined();
    expect([...remote!.rooms]).not.toContain(permissionRoom(org.orgId, 'audit:read'));
  }, 120_000);
});
