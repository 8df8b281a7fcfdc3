// CI users (SPEC §2): organization members that cannot sign in and act only through API tokens;
// managed with team:manage; removing one cuts its token off at once (SPEC §7).
import { describe, expect, it } from 'vitest';
import { auditLog, command, connect, http, nextEvent, restCommand } from '../../helpers/signet.js';
import { createPolicy, createProject, generateCertificate } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

const fx = useSignet();
const { as, open, ok } = fx;

interface CreatedCiUser {
  ciUser: { userId: string; kind: string; name: string; email: string; role: string; version: number };
  apiKey: { id: string; ownerId: string };
  token: string;
}

async function createCiUser(name: string, role?: 'member' | 'viewer'): Promise<CreatedCiUser> {
  return ok<CreatedCiUser>(as.admin, 'ciUser.create', role ? { name, role } : { name });
}

describe('ciUser.create', () => {
  it('an admin creates a CI user: a member of kind ciUser, with a token shown once', async () => {
    const created = await createCiUser('Build Bot');
    expect(created.ciUser).toMatchObject({ kind: 'ciUser', name: 'Build Bot', role: 'member' });
    expect(created.token).toMatch(/^sgn_/);
    expect(created.apiKey.ownerId).toBe(created.ciUser.userId);

    const members = await command<any[]>(as.viewer, 'member.list');
    const listed = (members.ok ? members.result : []).find((m) => m.userId === created.ciUser.userId);
    expect(listed).toMatchObject({ kind: 'ciUser', role: 'member' });
  });

  it('a CI user cannot sign in with email and password', async () => {
    const { ciUser } = await createCiUser('No Login Bot');
    for (const password of ['', 'correct horse battery staple']) {
      const response = await http(fx.node, 'POST', '/api/v1/auth/login', { body: { email: ciUser.email, password } });
      expect(response.status).toBe(401);
      expect(response.body.error?.code).toBe('UNAUTHENTICATED');
      expect(response.headers.get('set-cookie')).toBeNull();
    }
  });

  it('its token authenticates REST commands and sockets, and its actions are audited as the CI user', async () => {
    const { ciUser, token } = await createCiUser('Release Bot');
    const project = await createProject(as.owner, 'bot-app');
    const certificate = await generateCertificate(as.owner, 'bot-cert');
    const policy = await createPolicy(as.owner, { projectId: project.id, slug: 'release', certificateId: certificate.id, submitters: [ciUser.userId] });

    const overRest = await restCommand(fx.node, 'notification.settings', { set: [{ policyId: policy.id, level: 'all' }] }, { token });
    expect(overRest.status).toBe(200);
    const socket = await open({ token });
    const me = await command<any>(socket, 'me.get');
    expect(me.ok && me.result.actor).toMatchObject({ type: 'ciUser', id: ciUser.userId });
    const overSocket = await command(socket, 'member.invite', { email: 'someone@example.com', role: 'viewer' });
    expect(!overSocket.ok && overSocket.error.code).toBe('FORBIDDEN');

    const entries = (await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.actor.id === ciUser.userId);
    expect(entries.map((entry) => [entry.action, entry.outcome, entry.source.via])).toEqual([
      ['notification.settings', 'ok', 'rest'],
      ['member.invite', 'denied', 'socket'],
    ]);
    for (const entry of entries) expect(entry.actor).toMatchObject({ type: 'ciUser', id: ciUser.userId, name: 'Release Bot' });
  });

  it('members and viewers cannot create CI users', async () => {
    for (const role of ['member', 'viewer'] as const) {
      const ack = await command(as[role], 'ciUser.create', { name: `${role} bot` });
      expect(ack.ok).toBe(false);
      expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    }
    const members = await command<any[]>(as.admin, 'member.list');
    expect((members.ok ? members.result : []).map((m) => m.name)).not.toContain('member bot');
  });

  it('a CI user cannot be made an admin', async () => {
    const { ciUser } = await createCiUser('Promotion Bot');
    const ack = await command(as.owner, 'member.changeRole', { userId: ciUser.userId, role: 'admin', version: ciUser.version });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('INVALID_INPUT');
    expect(!ack.ok && ack.error.issues?.map((issue) => issue.path)).toEqual(['role']);
    const members = await command<any[]>(as.owner, 'member.list');
    expect((members.ok ? members.result : []).find((m) => m.userId === ciUser.userId)?.role).toBe('member');
  });
});

describe('ciUser.remove', () => {
  it('removes the CI user, and its token stops working at once', async () => {
    const { ciUser, token } = await createCiUser('Doomed Bot');
    const socket = await open({ token });
    expect((await command(socket, 'member.list')).ok).toBe(true);
    const revoked = nextEvent(socket, 'revoked');

    const removed = await command<any>(as.admin, 'ciUser.remove', { userId: ciUser.userId });
    expect(removed.ok).toBe(true);
    expect(removed.ok && removed.result).toMatchObject({ removed: ciUser.userId, revokedApiKeys: 1 });
    // Cut off on the server before the acknowledgement.
    const stillConnected = [...fx.node.io.of('/').sockets.values()].filter((s) => s.data?.userId === ciUser.userId);
    expect(stillConnected).toEqual([]);
    expect((await revoked).reason).toMatch(/revoked|no longer/);

    const rest = await restCommand(fx.node, 'member.list', {}, { token });
    expect(rest.status).toBe(401);
    expect(rest.body.error?.code).toBe('UNAUTHENTICATED');
    await expect(connect(fx.node, { token })).rejects.toThrow();
    const members = await command<any[]>(as.admin, 'member.list');
    expect((members.ok ? members.result : []).map((m) => m.userId)).not.toContain(ciUser.userId);
  });

  it('refuses a regular member with INVALID_INPUT naming userId, and removes nobody', async () => {
    const ack = await command(as.admin, 'ciUser.remove', { userId: fx.org.users.member.userId });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('INVALID_INPUT');
    expect(!ack.ok && ack.error.issues?.map((issue) => issue.path)).toEqual(['userId']);
    const members = await command<any[]>(as.admin, 'member.list');
    expect((members.ok ? members.result : []).map((m) => m.userId)).toContain(fx.org.users.member.userId);
  });

  it('leaves no account behind, whether removed as a CI user or as a member: its email no longer names anyone', async () => {
    const { redis, keys } = fx.node.signet;
    for (const removal of ['ciUser.remove', 'member.remove'] as const) {
      const { ciUser } = await createCiUser(`Leftover Bot ${removal}`);
      expect(await redis.hget(keys.usersByEmail, ciUser.email)).toBe(ciUser.userId);
      const removed = await command<any>(as.admin, removal, { userId: ciUser.userId });
      expect(removed.ok && removed.result).toMatchObject({ removed: ciUser.userId, revokedApiKeys: 1 });
      expect(await redis.hget(keys.usersByEmail, ciUser.email)).toBeNull();
      expect(await redis.exists(keys.user(ciUser.userId), keys.userOrgs(ciUser.userId), keys.member(fx.org.orgId, ciUser.userId))).toBe(0);
    }
  });

  it('an unknown CI user is NOT_FOUND', async () => {
    const ack = await command(as.admin, 'ciUser.remove', { userId: 'nobody-here' });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('NOT_FOUND');
  });

  it('members and viewers cannot remove CI users', async () => {
    const { ciUser, token } = await createCiUser('Sturdy Bot');
    for (const role of ['member', 'viewer'] as const) {
      const ack = await command(as[role], 'ciUser.remove', { userId: ciUser.userId });
      expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    }
    expect((await restCommand(fx.node, 'member.list', {}, { token })).status).toBe(200);
  });
});
