// Live events: rooms, two nodes (commits and changes of access published by the commit script),
// resuming, revocation, handshake rules. Under load and with a paused node: realtime/*.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { standaloneSignet } from '../../server/signet.js';
import { commit } from '../../server/store/commit.js';
import { createLogger } from '../../server/logger.js';
import { connectRedis } from '../../server/store/redis.js';
import { CLI_SOURCE, auditDraft } from '../../server/audit/entries.js';
import {
  command,
  connect,
  lastSeenSeq,
  nextEvent,
  OPERATOR,
  redisUrl,
  restCommand,
  seedOrg,
  signIn,
  type ClientSocket,
  type TestOrg,
} from '../helpers/signet.js';
import { useSignet } from '../helpers/signetFixture.js';

const fx = useSignet({ signIn: false });
let nodeA: SignetNode;
let nodeB: SignetNode;
let org: TestOrg;
const sockets: ClientSocket[] = [];
const cookies: Record<string, string> = {};

async function connectAs(role: 'owner' | 'admin' | 'member' | 'viewer', node = nodeA, extra: { lastSeq?: number } = {}) {
  const socket = await connect(node, { cookie: cookies[role], ...extra });
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  // Two nodes sharing one Redis (and one prefix, as two processes of one installation would).
  ({ node: nodeA, org } = fx);
  nodeB = await fx.startNode({ ...nodeA.signet.config, nodeId: 'node-b' });
  fx.onClose(() => sockets.forEach((socket) => socket.close()));
  for (const role of ['owner', 'admin', 'member', 'viewer'] as const) cookies[role] = await signIn(nodeA, org.users[role]);
});

describe('live events across nodes', () => {
  it('an audit entry caused on node A reaches an admin connected to node B, and not a member there', async () => {
    const adminOnB = await connectAs('admin', nodeB);
    const memberOnB = await connectAs('member', nodeB);
    const ownerOnA = await connectAs('owner', nodeA);
    const seen = nextEvent(adminOnB, 'audit', (event) => event.entry.action === 'member.invite');
    const invited = await command(ownerOnA, 'member.invite', { email: 'new.person@example.com', role: 'viewer' });
    expect(invited.ok).toBe(true);
    const event = await seen;
    expect(event.entry.actor.id).toBe(org.users.owner.userId);
    expect(event.entry.target).toMatchObject({ type: 'invitation', name: 'new.person@example.com' });
    expect(event.seq).toBeGreaterThan(0);
    // The member saw the presence updates but never an audit entry or the invitation.
    await command(memberOnB, 'me.get');
    expect(memberOnB.received.filter((r) => r.event === 'audit')).toEqual([]);
    expect(memberOnB.received.filter((r) => r.event === 'change' && r.data.entity === 'invitation')).toEqual([]);
  });

  it('the node that committed delivers each event to its own sockets exactly once', async () => {
    const ownerOnA = await connectAs('owner', nodeA);
    const renamed = await command(ownerOnA, 'org.get');
    const updated = await command(ownerOnA, 'org.update', { name: 'Renamed once', version: renamed.result.version });
    expect(updated.ok).toBe(true);
    // A later command's audit entry arrives after any late copy of the first one would have.
    const marker = nextEvent(ownerOnA, 'audit', (event) => event.entry.action === 'member.invite');
    await command(ownerOnA, 'member.invite', { email: 'once@example.com', role: 'viewer' });
    await marker;
    const renames = ownerOnA.received.filter((r) => r.event === 'audit' && r.data.entry.action === 'org.update');
    const changes = ownerOnA.received.filter((r) => r.event === 'change' && r.data.entity === 'organization' && r.data.data?.name === 'Renamed once');
    expect(renames).toHaveLength(1);
    expect(changes).toHaveLength(1);
  });

  it("a node's own commit whose reply it never got (a lost connection) still reaches its sockets", async () => {
    const adminOnA = await connectAs('admin', nodeA);
    const { redis, keys, commitOrigin } = nodeA.signet;
    const target = { type: 'organization', id: org.orgId, name: 'reply lost' };
    const seen = nextEvent(adminOnA, 'audit', (event) => event.entry.target.name === target.name);
    // Committed and published in node A's name, but A's apply() never learned of it.
    await commit(redis, keys, 1000, { audits: [auditDraft({ orgId: org.orgId, actor: OPERATOR, action: 'org.probe', target, source: CLI_SOURCE })] }, {
      channel: keys.committedChannel,
      origin: commitOrigin,
    });
    expect((await seen).entry.action).toBe('org.probe');
  });

  it('a change committed outside any node (as the CLI does) reaches live sockets on every node', async () => {
    const adminOnA = await connectAs('admin', nodeA);
    const adminOnB = await connectAs('admin', nodeB);
    const redis = await connectRedis(redisUrl());
    try {
      // A Signet runtime without a Socket.IO server, on the nodes' Redis and prefix: the CLI's shape.
      const cli = standaloneSignet(nodeA.signet.config, redis, createLogger('silent'));
      const target = { type: 'organization', id: org.orgId, name: 'probe from the CLI' };
      const seenOnA = nextEvent(adminOnA, 'audit', (event) => event.entry.target.name === target.name);
      const seenOnB = nextEvent(adminOnB, 'audit', (event) => event.entry.target.name === target.name);
      const committed = await cli.apply({
        audits: [auditDraft({ orgId: org.orgId, actor: OPERATOR, action: 'org.probe', target, source: CLI_SOURCE })],
      });
      const [onA, onB] = await Promise.all([seenOnA, seenOnB]);
      expect(onA).toEqual({ seq: committed.audits[0]!.eventSeq, entry: committed.audits[0]!.entry });
      expect(onB).toEqual(onA);
    } finally {
      redis.disconnect();
    }
  });
});

describe('a node that lost the commit channel', () => {
  it('delivers nothing meanwhile, then has its clients resume exactly what they missed', async () => {
    const adminOnB = await connectAs('admin', nodeB);
    const ownerOnA = await connectAs('owner', nodeA);
    const clients = String(await nodeA.signet.redis.call('CLIENT', 'LIST'));
    const line = clients.split('\n').find((entry) => entry.includes(`name=signet-commits-${nodeB.signet.commitOrigin}`));
    expect(line).toBeDefined();
    const cutOff = new Promise<string>((resolve) => adminOnB.once('disconnect', resolve));
    // Node B's subscription drops (Redis stays up; B reconnects by itself).
    await nodeA.signet.redis.call('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(line!)![1]!);
    const invited = await command(ownerOnA, 'member.invite', { email: 'during.the.gap@example.com', role: 'viewer' });
    expect(invited.ok).toBe(true);
    // Once B is back on the channel it disconnects its sockets, so that they resume.
    expect(await cutOff).toBe('io server disconnect');
    const missed = (r: { event: string; data: any }) => r.event === 'audit' && r.data.entry.target.name === 'during.the.gap@example.com';
    expect(adminOnB.received.filter(missed)).toEqual([]);
    const resumed = await connectAs('admin', nodeB, { lastSeq: lastSeenSeq(adminOnB) });
    expect(resumed.ready).toMatchObject({ resumed: true });
    expect(resumed.received.filter(missed)).toHaveLength(1);
  });
});

describe('resuming from a sequence number', () => {
  it('a client that reconnects with its last number receives exactly what it missed, once', async () => {
    const admin = await connectAs('admin');
    const owner = await connectAs('owner', nodeB);
    const lastSeq = admin.ready.seq;
    admin.close();
    const missed: number[] = [];
    for (const name of ['Alpha', 'Beta', 'Gamma']) {
      const org1 = await command(owner, 'org.get');
      const updated = await command(owner, 'org.update', { name: `Org ${name}`, version: org1.ok ? (org1.result as any).version : 0 });
      expect(updated.ok).toBe(true);
    }
    const resumed = await connectAs('admin', nodeA, { lastSeq });
    expect(resumed.ready.resumed).toBe(true);
    const replayed = resumed.received.filter((r) => r.event !== 'presence' && r.event !== 'ready');
    const seqs = replayed.map((r) => r.data.seq);
    // Three org updates, each with its audit entry.
    expect(replayed.filter((r) => r.event === 'change' && r.data.entity === 'organization').map((r) => r.data.data.name)).toEqual([
      'Org Alpha',
      'Org Beta',
      'Org Gamma',
    ]);
    expect(replayed.filter((r) => r.event === 'audit' && r.data.entry.action === 'org.update')).toHaveLength(3);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(Math.min(...seqs)).toBeGreaterThan(lastSeq);
    expect(resumed.ready.seq).toBe(Math.max(...seqs));
    for (const seq of seqs) missed.push(seq);
    expect(resumed.ready.replayed).toBe(missed.length);
  });

  it('a viewer resuming receives the changes it may see but none of the audit entries', async () => {
    const viewer = await connectAs('viewer');
    const owner = await connectAs('owner');
    const lastSeq = viewer.ready.seq;
    viewer.close();
    const current = await command(owner, 'org.get');
    await command(owner, 'org.update', { name: 'Org Delta', version: (current.result as any).version });
    const resumed = await connectAs('viewer', nodeB, { lastSeq });
    const replayed = resumed.received.filter((r) => r.event === 'change' || r.event === 'audit');
    expect(replayed.map((r) => r.event)).toEqual(['change']);
    expect(replayed[0]!.data.data.name).toBe('Org Delta');
  });
});

describe('revocation applies to live sockets before the command is acknowledged', () => {
  it('a demoted admin leaves the audit feed on the other node at once', async () => {
    const fresh = await seedOrg(nodeA);
    const adminCookie = await signIn(nodeA, fresh.users.admin);
    const ownerCookie = await signIn(nodeA, fresh.users.owner);
    const adminOnB = await connect(nodeB, { cookie: adminCookie });
    const owner = await connect(nodeA, { cookie: ownerCookie });
    sockets.push(adminOnB, owner);
    const members = await command(owner, 'member.list');
    const adminMember = (members.result as any[]).find((m) => m.userId === fresh.users.admin.userId);
    const demoted = await command(owner, 'member.changeRole', { userId: fresh.users.admin.userId, role: 'viewer', version: adminMember.version });
    expect(demoted.ok).toBe(true);
    const before = adminOnB.received.filter((r) => r.event === 'audit').length;
    // Anything audited after the acknowledgement must not reach the demoted socket.
    await command(owner, 'member.invite', { email: 'after.demotion@example.com', role: 'member' });
    await command(owner, 'me.get'); // a round trip, so broadcasts of the invite have been sent
    const probe = await connect(nodeB, { cookie: ownerCookie });
    sockets.push(probe);
    expect(adminOnB.received.filter((r) => r.event === 'audit').length).toBe(before);
    // And the very next command runs with the new role.
    const refused = await command(adminOnB, 'member.invite', { email: 'nope@example.com', role: 'member' });
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error.code).toBe('FORBIDDEN');
  });

  it('a removed member is disconnected on every node before the removal is acknowledged', async () => {
    const fresh = await seedOrg(nodeA);
    const memberCookie = await signIn(nodeA, fresh.users.member);
    const ownerCookie = await signIn(nodeA, fresh.users.owner);
    const memberOnA = await connect(nodeA, { cookie: memberCookie });
    const memberOnB = await connect(nodeB, { cookie: memberCookie });
    const owner = await connect(nodeA, { cookie: ownerCookie });
    sockets.push(memberOnA, memberOnB, owner);
    const revokedOnB = nextEvent(memberOnB, 'revoked');
    const removed = await command(owner, 'member.remove', { userId: fresh.users.member.userId });
    expect(removed.ok).toBe(true);
    expect(memberOnA.connected).toBe(false);
    expect((await revokedOnB).reason).toMatch(/no longer a member/);
  });

  it('a revoked API key is cut off at once', async () => {
    const fresh = await seedOrg(nodeA);
    const ownerCookie = await signIn(nodeA, fresh.users.member);
    const member = await connect(nodeA, { cookie: ownerCookie });
    sockets.push(member);
    const created = await command<any>(member, 'apiKey.create', { name: 'ci', permissions: ['signing:read', 'team:read'] });
    expect(created.ok).toBe(true);
    const token = created.ok ? created.result.token : '';
    expect(token).toMatch(/^sgn_/);
    const keySocket = await connect(nodeB, { token });
    sockets.push(keySocket);
    expect((await command(keySocket, 'member.list')).ok).toBe(true);
    const revoked = nextEvent(keySocket, 'revoked');
    const done = await command(member, 'apiKey.revoke', { keyId: created.ok ? created.result.apiKey.id : '' });
    expect(done.ok).toBe(true);
    expect((await revoked).reason).toMatch(/revoked/);
    const rest = await restCommand(nodeA, 'member.list', {}, { token });
    expect(rest.status).toBe(401);
    expect(rest.body.error?.code).toBe('UNAUTHENTICATED');
  });
});

describe('handshake', () => {
  it('refuses a cross-origin handshake even with a valid session cookie', async () => {
    await expect(connect(nodeA, { cookie: cookies.admin, origin: 'http://evil.example' })).rejects.toThrow();
  });

  it('refuses a handshake without credentials', async () => {
    await expect(connect(nodeA, {})).rejects.toThrow(/Sign in/);
  });

  it('refuses a bad API key', async () => {
    await expect(connect(nodeA, { token: 'sgn_AAAAAAAAAAAA_' + 'x'.repeat(43) })).rejects.toThrow(/not valid/);
  });
});
