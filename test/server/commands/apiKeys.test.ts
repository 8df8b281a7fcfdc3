// API keys (SPEC §3 "API keys", §7 revocation): a secret shown once and stored only as a hash,
// permissions bounded by the creator's, effective permissions bounded by the owner's current role.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { auditLog, command, connect, nextEvent, restCommand, seedOrg, signIn, startNode, type ClientSocket } from '../../helpers/signet.js';
import { useSignet } from '../../helpers/signetFixture.js';

const fx = useSignet();
const { as, cookies, open } = fx;

/** The part of an `sgn_<keyId>_<secret>` token that proves possession. */
function secretOf(token: string, keyId: string): string {
  expect(token.startsWith(`sgn_${keyId}_`)).toBe(true);
  return token.slice(`sgn_${keyId}_`.length);
}

/** Every key name and every value stored under the node's prefix, streams and hashes included. */
async function everythingStored(): Promise<string[]> {
  const { redis, keys } = fx.node.signet;
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${keys.prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      found.push(key);
      const type = await redis.type(key);
      if (type === 'string') found.push((await redis.get(key)) ?? '');
      else if (type === 'hash') found.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'set') found.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') found.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
      else if (type === 'list') found.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'stream') found.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return found;
}

interface CreatedKey {
  apiKey: { id: string; name: string; ownerId: string; prefix: string; expiresAt: string | null; ancestry: string[]; permissions: string[] };
  token: string;
  inheritedExpiry: boolean;
}

async function createKey(socket: ClientSocket, input: Record<string, unknown>): Promise<CreatedKey> {
  const ack = await command<any>(socket, 'apiKey.create', input);
  if (!ack.ok) throw new Error(`apiKey.create failed: ${JSON.stringify(ack.error)}`);
  return ack.result as CreatedKey;
}

/** Whether a node still holds a live socket authenticated with this API key. */
function holdsKeySocket(on: SignetNode, keyId: string): boolean {
  return [...on.io.of('/').sockets.values()].some((socket) => socket.data?.principal?.kind === 'apiKey' && socket.data.principal.keyId === keyId);
}

/** Polls a REST command with the key every 100 ms until its status differs from `from` (bounded). */
async function restStatusChange(token: string, from: number, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await restCommand(fx.node, 'member.list', {}, { token });
    if (response.status !== from) return response;
    if (Date.now() > deadline) throw new Error(`REST status stayed ${from} for ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}


describe('apiKey.create', () => {
  it('returns an sgn_ token once and stores only a hash of it', async () => {
    const { apiKey, token } = await createKey(as.member, { name: 'laptop', permissions: ['signing:read', 'team:read'] });
    expect(token).toMatch(/^sgn_/);
    const secret = secretOf(token, apiKey.id);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(apiKey).not.toHaveProperty('token');
    expect(apiKey).not.toHaveProperty('secretHash');
    expect(token.startsWith(apiKey.prefix)).toBe(true);

    // Never shown again: the list carries the recognizable prefix, not the secret.
    const listed = await command<any[]>(as.member, 'apiKey.list');
    expect(listed.ok).toBe(true);
    expect(JSON.stringify(listed)).not.toContain(secret);

    // Nothing in Redis — no key name, no value, no event in a stream — holds the token or its secret.
    const stored = await everythingStored();
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.filter((value) => value.includes(secret) || value.includes(token))).toEqual([]);

    // And yet the token works.
    const used = await restCommand(fx.node, 'member.list', {}, { token });
    expect(used.status).toBe(200);
  });

  it('the token never appears in the audit log or in events other sockets receive', async () => {
    const adminSaw = nextEvent(as.admin, 'audit', (event) => event.entry.action === 'apiKey.create' && event.entry.target.name === 'deploy');
    const { apiKey, token } = await createKey(as.member, { name: 'deploy', permissions: ['signing:read'] });
    const secret = secretOf(token, apiKey.id);
    const event = await adminSaw;
    expect(event.entry.target.id).toBe(apiKey.id);
    expect(JSON.stringify(event)).not.toContain(secret);

    const entries = await auditLog(fx.node, fx.org.orgId);
    expect(entries.some((entry) => entry.target.id === apiKey.id)).toBe(true);
    expect(JSON.stringify(entries)).not.toContain(secret);

    await command(as.owner, 'me.get'); // a round trip on each socket: earlier broadcasts have arrived
    await command(as.viewer, 'me.get');
    for (const socket of [as.owner, as.admin, as.viewer, as.member]) {
      expect(JSON.stringify(socket.received)).not.toContain(secret);
    }
  });

  it('a member asking for a permission they lack (team:manage) is FORBIDDEN, naming it, and nothing is created', async () => {
    const before = await command<any[]>(as.member, 'apiKey.list');
    const ack = await command(as.member, 'apiKey.create', { name: 'too much', permissions: ['team:read', 'team:manage'] });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    expect(!ack.ok && ack.error.message).toContain('team:manage');
    const after = await command<any[]>(as.member, 'apiKey.list');
    expect(after.ok && after.result.length).toBe(before.ok && before.result.length);
  });

  it('a viewer cannot create keys at all (no apikey:write)', async () => {
    const ack = await command(as.viewer, 'apiKey.create', { name: 'viewer key', permissions: ['signing:read'] });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    expect(!ack.ok && ack.error.message).toContain('apikey:write');
  });

  it('an expiry in the past is INVALID_INPUT naming expiresAt', async () => {
    const expiresAt = new Date(Date.now() - 60_000).toISOString();
    const ack = await command(as.member, 'apiKey.create', { name: 'stale', permissions: ['signing:read'], expiresAt });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('INVALID_INPUT');
    expect(!ack.ok && ack.error.issues?.map((issue) => issue.path)).toEqual(['expiresAt']);
  });

  it('a key stops working once it expires: REST gets UNAUTHENTICATED and its live socket is cut off', async () => {
    const expiresAt = new Date(Date.now() + 1000).toISOString();
    const { apiKey, token } = await createKey(as.member, { name: 'short-lived', permissions: ['team:read'], expiresAt });
    expect(apiKey.expiresAt).toBe(expiresAt);
    const keySocket = await open({ token });
    const revoked = nextEvent(keySocket, 'revoked', () => true, 5000);

    const refused = await restStatusChange(token, 200);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(refused.status).toBe(401);
    expect(refused.body.error?.code).toBe('UNAUTHENTICATED');

    expect((await revoked).reason).toMatch(/expired/);
    await expect(connect(fx.node, { token })).rejects.toThrow(/expired/);
  });
});

describe('apiKey.list', () => {
  it('shows only my own keys, never their secret hash', async () => {
    const mine = await createKey(as.member, { name: 'member-only', permissions: ['signing:read'] });
    const theirs = await createKey(as.admin, { name: 'admin-only', permissions: ['audit:read'] });

    const memberList = await command<any[]>(as.member, 'apiKey.list');
    expect(memberList.ok).toBe(true);
    const memberKeys = memberList.ok ? memberList.result : [];
    expect(memberKeys.map((key) => key.id)).toContain(mine.apiKey.id);
    expect(memberKeys.map((key) => key.id)).not.toContain(theirs.apiKey.id);
    expect(memberKeys.every((key) => key.ownerId === fx.org.users.member.userId)).toBe(true);

    const adminList = await command<any[]>(as.admin, 'apiKey.list');
    const adminKeys = adminList.ok ? adminList.result : [];
    expect(adminKeys.map((key) => key.id)).toEqual([theirs.apiKey.id]);

    const storedHash = JSON.parse((await fx.node.signet.redis.get(fx.node.signet.keys.apiKey(mine.apiKey.id)))!).secretHash as string;
    expect(storedHash).toMatch(/^[0-9a-f]{32,}$/);
    for (const key of [...memberKeys, ...adminKeys]) expect(key).not.toHaveProperty('secretHash');
    expect(JSON.stringify(memberList)).not.toContain(storedHash);
  });

  it('shows when a key was last used', async () => {
    const { apiKey, token } = await createKey(as.member, { name: 'usage', permissions: ['team:read'] });
    const fresh = await command<any[]>(as.member, 'apiKey.list');
    expect((fresh.ok ? fresh.result : []).find((key) => key.id === apiKey.id)?.lastUsedAt).toBeNull();

    const usedAt = Date.now();
    expect((await restCommand(fx.node, 'member.list', {}, { token })).status).toBe(200);

    const listed = await command<any[]>(as.member, 'apiKey.list');
    const lastUsedAt = (listed.ok ? listed.result : []).find((key) => key.id === apiKey.id)?.lastUsedAt;
    expect(typeof lastUsedAt).toBe('string');
    expect(Date.parse(lastUsedAt)).toBeGreaterThanOrEqual(usedAt - 1000);
  });
});

describe('apiKey.revoke', () => {
  it('revokes only your own keys: another member\'s key is FORBIDDEN and keeps working', async () => {
    const adminKey = await createKey(as.admin, { name: 'admin tool', permissions: ['team:read'] });
    const memberKey = await createKey(as.member, { name: 'member tool', permissions: ['team:read'] });

    const byMember = await command(as.member, 'apiKey.revoke', { keyId: adminKey.apiKey.id });
    expect(!byMember.ok && byMember.error.code).toBe('FORBIDDEN');
    // team:manage covers CI users' keys, not another person's.
    const byAdmin = await command(as.admin, 'apiKey.revoke', { keyId: memberKey.apiKey.id });
    expect(!byAdmin.ok && byAdmin.error.code).toBe('FORBIDDEN');

    expect((await restCommand(fx.node, 'member.list', {}, { token: adminKey.token })).status).toBe(200);
    expect((await restCommand(fx.node, 'member.list', {}, { token: memberKey.token })).status).toBe(200);
  });

  it('an unknown key is NOT_FOUND', async () => {
    const ack = await command(as.member, 'apiKey.revoke', { keyId: 'AAAAAAAAAAAA' });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('NOT_FOUND');
  });

  it('a revoked key gets UNAUTHENTICATED over REST and its socket handshake is refused', async () => {
    const { apiKey, token } = await createKey(as.member, { name: 'to revoke', permissions: ['team:read'] });
    expect((await restCommand(fx.node, 'member.list', {}, { token })).status).toBe(200);

    const revoked = await command<any>(as.member, 'apiKey.revoke', { keyId: apiKey.id });
    expect(revoked.ok).toBe(true);

    const rest = await restCommand(fx.node, 'member.list', {}, { token });
    expect(rest.status).toBe(401);
    expect(rest.body.error?.code).toBe('UNAUTHENTICATED');
    await expect(connect(fx.node, { token })).rejects.toThrow(/not valid/);
    const listed = await command<any[]>(as.member, 'apiKey.list');
    expect((listed.ok ? listed.result : []).map((key) => key.id)).not.toContain(apiKey.id);
  });
});

describe('effective permissions: the key\'s list intersected with its owner\'s current role', () => {
  it('an admin\'s team:manage key loses team:manage when the admin is demoted, and keeps team:read', async () => {
    const fresh = await seedOrg(fx.node);
    const admin = await open({ cookie: await signIn(fx.node, fresh.users.admin) });
    const owner = await open({ cookie: await signIn(fx.node, fresh.users.owner) });
    const { token } = await createKey(admin, { name: 'team bot', permissions: ['team:manage', 'team:read'] });

    const invitedBefore = await restCommand(fx.node, 'member.invite', { email: 'first@example.com', role: 'viewer' }, { token });
    expect(invitedBefore.status).toBe(200);

    const members = await command<any[]>(owner, 'member.list');
    const adminMember = (members.ok ? members.result : []).find((m) => m.userId === fresh.users.admin.userId);
    const demoted = await command(owner, 'member.changeRole', { userId: fresh.users.admin.userId, role: 'member', version: adminMember.version });
    expect(demoted.ok).toBe(true);

    const invite = await restCommand(fx.node, 'member.invite', { email: 'second@example.com', role: 'viewer' }, { token });
    expect(invite.status).toBe(403);
    expect(invite.body.error?.code).toBe('FORBIDDEN');
    const list = await restCommand(fx.node, 'member.list', {}, { token });
    expect(list.status).toBe(200);
    expect(list.body.result.map((m: { userId: string }) => m.userId)).toContain(fresh.users.admin.userId);
  });
});

describe('keys created with an API key never outlive it (its expiry, its revocation)', () => {
  const KEY_WRITER = ['team:read', 'apikey:write'];

  it('a key created without an expiry gets its parent\'s (and says so); a later one is INVALID_INPUT naming expiresAt; an earlier one is kept', async () => {
    const parentExpiry = new Date(Date.now() + 3_600_000).toISOString();
    const parent = await createKey(as.member, { name: 'expiring parent', permissions: KEY_WRITER, expiresAt: parentExpiry });
    expect(parent.inheritedExpiry).toBe(false);
    expect(parent.apiKey.ancestry).toEqual([]);
    const parentSocket = await open({ token: parent.token });

    const child = await createKey(parentSocket, { name: 'child', permissions: ['team:read'] });
    expect(child.apiKey).toMatchObject({ expiresAt: parentExpiry, ancestry: [parent.apiKey.id], ownerId: fx.org.users.member.userId });
    expect(child.inheritedExpiry).toBe(true);
    // "Never" from a key means: as long as the key creating it.
    expect((await createKey(parentSocket, { name: 'never?', permissions: ['team:read'], expiresAt: null })).apiKey.expiresAt).toBe(parentExpiry);

    const before = await command<any[]>(as.member, 'apiKey.list');
    for (const expiresAt of [new Date(Date.parse(parentExpiry) + 1000).toISOString(), '2999-01-01T00:00:00Z']) {
      const later = await command(parentSocket, 'apiKey.create', { name: 'outliving', permissions: ['team:read'], expiresAt });
      expect(later.ok).toBe(false);
      expect(!later.ok && later.error.code).toBe('INVALID_INPUT');
      expect(!later.ok && later.error.issues?.map((issue) => issue.path)).toEqual(['expiresAt']);
      expect(!later.ok && later.error.message).toContain(parentExpiry);
    }
    expect((await command<any[]>(as.member, 'apiKey.list')).result?.length).toBe(before.result?.length);

    const earlierExpiry = new Date(Date.parse(parentExpiry) - 60_000).toISOString();
    const earlier = await createKey(parentSocket, { name: 'shorter', permissions: ['team:read'], expiresAt: earlierExpiry });
    expect(earlier).toMatchObject({ apiKey: { expiresAt: earlierExpiry }, inheritedExpiry: false });

    // The list (and the console) shows what each key was created with.
    const listed = (await command<any[]>(as.member, 'apiKey.list')).result ?? [];
    expect(listed.find((key) => key.id === child.apiKey.id)?.ancestry).toEqual([parent.apiKey.id]);
    const created = (await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.action === 'apiKey.create' && entry.target.id === child.apiKey.id);
    expect(created).toMatchObject([{ actor: { type: 'apiKey', id: parent.apiKey.id }, changes: { createdWithKey: { after: parent.apiKey.id }, expiresAt: { after: parentExpiry } } }]);
  });

  it('a key with a short expiry mints no permanent key: child and grandchild stop working when it expires, over REST and on their sockets', async () => {
    // The issue's 4 seconds, doubled: room for a loaded machine to build the chain before the parent expires.
    const expiresAt = new Date(Date.now() + 8000).toISOString();
    const parent = await createKey(as.member, { name: 'four seconds', permissions: KEY_WRITER, expiresAt });
    const parentSocket = await open({ token: parent.token });
    const child = await createKey(parentSocket, { name: 'meant to be permanent', permissions: KEY_WRITER });
    const childSocket = await open({ token: child.token });
    const grandchild = await createKey(childSocket, { name: 'grandchild', permissions: ['team:read'], expiresAt: null });
    expect([child.apiKey.expiresAt, grandchild.apiKey.expiresAt]).toEqual([expiresAt, expiresAt]);
    expect(grandchild.apiKey.ancestry).toEqual([child.apiKey.id, parent.apiKey.id]);
    const grandchildSocket = await open({ token: grandchild.token });
    const cutOff = [childSocket, grandchildSocket].map((socket) => nextEvent(socket, 'revoked', () => true, 20_000));
    expect((await restCommand(fx.node, 'member.list', {}, { token: child.token })).status).toBe(200);

    // Once the parent is refused, so are the keys it created.
    expect((await restStatusChange(parent.token, 200, 20_000)).status).toBe(401);
    for (const token of [child.token, grandchild.token]) {
      const refused = await restCommand(fx.node, 'member.list', {}, { token });
      expect(refused.status).toBe(401);
      expect(refused.body.error?.code).toBe('UNAUTHENTICATED');
    }
    for (const revoked of await Promise.all(cutOff)) expect(revoked.reason).toMatch(/expired/);
    await expect(connect(fx.node, { token: child.token })).rejects.toThrow(/expired/);
  });

  it('a key whose parent is gone is refused, even if its own record survived (created while the parent was being revoked)', async () => {
    const parent = await createKey(as.member, { name: 'racing parent', permissions: KEY_WRITER });
    const child = await createKey(await open({ token: parent.token }), { name: 'racing child', permissions: ['team:read'] });
    const { redis, keys } = fx.node.signet;
    const childRaw = (await redis.get(keys.apiKey(child.apiKey.id)))!;
    expect((await command(as.member, 'apiKey.revoke', { keyId: parent.apiKey.id })).ok).toBe(true);
    // As if the child's commit had landed after the revocation read the organization's keys.
    await redis.set(keys.apiKey(child.apiKey.id), childRaw);
    await redis.sadd(keys.orgApiKeys(fx.org.orgId), child.apiKey.id);

    const refused = await restCommand(fx.node, 'member.list', {}, { token: child.token });
    expect(refused.status).toBe(401);
    expect(refused.body.error?.message).toMatch(/created with was revoked/);
    await expect(connect(fx.node, { token: child.token })).rejects.toThrow(/created with was revoked/);
  });

  it('revoking a key revokes every key created with it in the same commit, cut off on every node before the revoke is acknowledged', async () => {
    const nodeB = await startNode({ ...fx.node.signet.config, nodeId: 'node-b' });
    try {
      const parent = await createKey(as.member, { name: 'parent', permissions: KEY_WRITER });
      const child = await createKey(await open({ token: parent.token }), { name: 'child', permissions: KEY_WRITER });
      const childOnB = await open({ token: child.token }, nodeB);
      const grandchild = await createKey(childOnB, { name: 'grandchild', permissions: ['team:read'] });
      const grandchildOnB = await open({ token: grandchild.token }, nodeB);
      const grandchildOnA = await open({ token: grandchild.token });
      // A sibling created by the person, and a key created with the child's sibling, stay.
      const unrelated = await createKey(as.member, { name: 'unrelated', permissions: ['team:read'] });
      expect(holdsKeySocket(nodeB, child.apiKey.id) && holdsKeySocket(nodeB, grandchild.apiKey.id) && holdsKeySocket(fx.node, grandchild.apiKey.id)).toBe(true);

      const cutOff = [childOnB, grandchildOnB, grandchildOnA].map((socket) => nextEvent(socket, 'revoked'));
      const deleted = [child, grandchild].map(({ apiKey }) => nextEvent(as.member, 'change', (event) => event.entity === 'apiKey' && event.op === 'deleted' && event.id === apiKey.id));
      const seqBefore = (await auditLog(fx.node, fx.org.orgId)).at(-1)!.seq;
      const revoked = await command<any>(as.member, 'apiKey.revoke', { keyId: parent.apiKey.id });
      expect(revoked.result).toEqual({ revoked: parent.apiKey.id, alsoRevoked: expect.arrayContaining([child.apiKey.id, grandchild.apiKey.id]) });
      expect(revoked.result.alsoRevoked).toHaveLength(2);

      // When the acknowledgement arrives, no node holds a socket of any of them any more.
      for (const [on, keyId] of [[nodeB, child.apiKey.id], [nodeB, grandchild.apiKey.id], [fx.node, grandchild.apiKey.id]] as const) {
        expect(holdsKeySocket(on, keyId), `a socket of ${keyId} on ${on === fx.node ? 'node A' : 'node B'}`).toBe(false);
      }
      for (const token of [parent.token, child.token, grandchild.token]) {
        expect((await restCommand(nodeB, 'member.list', {}, { token })).status).toBe(401);
      }
      for (const event of await Promise.all(cutOff)) expect(event.reason).toMatch(/revoked|not valid/);
      await Promise.all(deleted);
      expect((await restCommand(fx.node, 'member.list', {}, { token: unrelated.token })).status).toBe(200);

      // One commit: the revocation and an entry for each key revoked with it, in consecutive positions.
      const entries = (await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.seq > seqBefore && entry.action === 'apiKey.revoke');
      expect(entries.map((entry) => entry.target.id).sort()).toEqual([parent.apiKey.id, child.apiKey.id, grandchild.apiKey.id].sort());
      expect(entries.map((entry) => entry.seq)).toEqual([entries[0]!.seq, entries[0]!.seq + 1, entries[0]!.seq + 2]);
      expect(entries.find((entry) => entry.target.id === grandchild.apiKey.id)?.changes).toMatchObject({ revokedWith: { after: parent.apiKey.id } });
      const listed = ((await command<any[]>(as.member, 'apiKey.list')).result ?? []).map((key) => key.id);
      expect(listed).not.toContain(child.apiKey.id);
      expect(listed).not.toContain(grandchild.apiKey.id);
    } finally {
      await nodeB.close();
    }
  });

  it('revoking a child leaves its parent working', async () => {
    const parent = await createKey(as.member, { name: 'keeps working', permissions: KEY_WRITER });
    const child = await createKey(await open({ token: parent.token }), { name: 'revoked alone', permissions: ['team:read'] });
    const revoked = await command<any>(as.member, 'apiKey.revoke', { keyId: child.apiKey.id });
    expect(revoked.result).toEqual({ revoked: child.apiKey.id, alsoRevoked: [] });
    expect((await restCommand(fx.node, 'member.list', {}, { token: parent.token })).status).toBe(200);
    expect((await restCommand(fx.node, 'member.list', {}, { token: child.token })).status).toBe(401);
  });

  it('a CI user created with an expiring key gets a token bounded by that key; removing the key\'s owner revokes it', async () => {
    const fresh = await seedOrg(fx.node);
    const owner = await open({ cookie: await signIn(fx.node, fresh.users.owner) });
    const admin = await open({ cookie: await signIn(fx.node, fresh.users.admin) });
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const teamKey = await createKey(admin, { name: 'team bot', permissions: ['team:manage', 'team:read'], expiresAt });
    const bot = await command<any>(await open({ token: teamKey.token }), 'ciUser.create', { name: 'Bot made by a key' });
    expect(bot.ok).toBe(true);
    expect(bot.result.apiKey).toMatchObject({ expiresAt, ancestry: [teamKey.apiKey.id], permissions: ['team:read'] });
    const botSocket = await open({ token: bot.result.token });
    const cutOff = nextEvent(botSocket, 'revoked');

    const removed = await command(owner, 'member.remove', { userId: fresh.users.admin.userId });
    expect(removed.ok).toBe(true);
    expect(holdsKeySocket(fx.node, bot.result.apiKey.id)).toBe(false);
    expect((await restCommand(fx.node, 'member.list', {}, { token: bot.result.token })).status).toBe(401);
    expect((await cutOff).reason).toMatch(/revoked|not valid/);
  });

  it('a key has at most four keys above it: the fifth generation cannot create another', async () => {
    let creator = await open({ cookie: cookies.member });
    for (let depth = 1; depth <= 5; depth += 1) {
      const key = await createKey(creator, { name: `depth ${depth}`, permissions: KEY_WRITER });
      expect(key.apiKey.ancestry).toHaveLength(depth - 1);
      creator = await open({ token: key.token });
    }
    const refused = await command(creator, 'apiKey.create', { name: 'depth 6', permissions: ['team:read'] });
    expect(!refused.ok && refused.error.code).toBe('FORBIDDEN');
    expect(!refused.ok && refused.error.message).toMatch(/closer to a person/);
  });
});

describe('a retried apiKey.create (the same request id)', () => {
  it('is refused, not answered with the stored token, once its actor no longer may create keys', async () => {
    const team = await fx.team();
    const requestId = randomUUID();
    const input = { name: 'retried after a demotion', permissions: ['team:read'] };
    const first = await command<any>(team.as.member, 'apiKey.create', input, { requestId });
    expect(first.ok && first.result.token).toMatch(/^sgn_/);
    const replay = await command<any>(team.as.member, 'apiKey.create', input, { requestId });
    expect(replay).toMatchObject({ ok: true, replayed: true, result: { token: first.ok && first.result.token } });

    const members = await command<any[]>(team.as.owner, 'member.list');
    const member = (members.ok ? members.result : []).find((m) => m.userId === team.org.users.member.userId);
    expect((await command(team.as.owner, 'member.changeRole', { userId: member.userId, role: 'viewer', version: member.version })).ok).toBe(true);

    const retried = await command<any>(team.as.member, 'apiKey.create', input, { requestId });
    expect(retried.ok).toBe(false);
    expect(!retried.ok && retried.error.code).toBe('FORBIDDEN');
    expect(JSON.stringify(retried)).not.toContain('sgn_');
  });
});
