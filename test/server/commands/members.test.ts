// Members and invitations (SPEC §2, §3, §6): member.list, member.invite, invite.list,
// invite.revoke, accepting an invitation, member.changeRole, member.remove, and the audit of
// sign-ins.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addMemberDirectly } from '../../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../../server/audit/entries.js';
import { INVITATION_LIFETIME_MS } from '../../../server/commands/members.js';
import { tokenHash } from '../../../server/auth/secrets.js';
import { ROLES, permissionsOf } from '../../../src/lib/shared/permissions.js';
import type { Invitation, Member } from '../../../src/lib/shared/entities.js';
import { OPERATOR, auditLog, command, http, nextEvent, restCommand, signIn, type ClientSocket } from '../../helpers/signet.js';
import { useSignet } from '../../helpers/signetFixture.js';

const DAY_MS = 24 * 60 * 60 * 1000;

const fx = useSignet();
const { as: sockets, cookies, open, ok, fails } = fx;

async function members(): Promise<Member[]> {
  return ok<Member[]>(sockets.owner, 'member.list');
}

async function memberOf(userId: string): Promise<Member | undefined> {
  return (await members()).find((m) => m.userId === userId);
}

/** Someone new in the organization, added the way an operator does. */
async function addPerson(role: 'admin' | 'member' | 'viewer', password = 'correct horse battery staple') {
  const email = `person-${randomBytes(3).toString('hex')}@example.com`;
  const member = await addMemberDirectly(fx.node.signet, fx.org.orgId, { email, name: `Person ${role}`, role, password }, OPERATOR, CLI_SOURCE);
  return { userId: member.userId, email, password };
}

function tokenOf(inviteLink: string): string {
  const token = new URL(inviteLink).searchParams.get('token');
  expect(token).toBeTruthy();
  return token!;
}

async function invite(email: string, role: 'admin' | 'member' | 'viewer' = 'viewer', by: ClientSocket = sockets.admin) {
  const result = await ok<{ invitation: Invitation; inviteLink: string }>(by, 'member.invite', { email, role });
  return { invitation: result.invitation, token: tokenOf(result.inviteLink) };
}

function accept(token: string, name = 'Nora Newcomer', password = 'a long enough password') {
  return http(fx.node, 'POST', '/api/v1/auth/accept-invite', { body: { token, name, password } });
}


describe('member.list', () => {
  it('a viewer can see the members and their roles, and nothing secret', async () => {
    const list = await ok<Member[]>(sockets.viewer, 'member.list');
    const roles = Object.fromEntries(list.map((m) => [m.userId, m.role]));
    for (const role of ROLES) expect(roles[fx.org.users[role].userId]).toBe(role);
    const owner = list.find((m) => m.userId === fx.org.users.owner.userId)!;
    expect(owner).toMatchObject({ email: fx.org.users.owner.email, name: 'Olivia Owner', kind: 'user', orgId: fx.org.orgId });
    expect(JSON.stringify(list)).not.toMatch(/argon2|passwordHash/i);
  });
});

describe('member.invite', () => {
  it('an admin invites: the result carries a one-time link, the invitation is listed, and its token appears in no audit entry or event', async () => {
    const email = 'invited.person@example.com';
    const audited = nextEvent(sockets.admin, 'audit', (event) => event.entry.action === 'member.invite' && event.entry.target.name === email);
    const changed = nextEvent(sockets.admin, 'change', (event) => event.entity === 'invitation' && event.op === 'created');

    const result = await ok<{ invitation: Invitation; inviteLink: string }>(sockets.admin, 'member.invite', { email, role: 'member' });

    expect(result.inviteLink).toMatch(/^http:\/\/signet\.test\/accept-invite\?token=/);
    const token = tokenOf(result.inviteLink);
    expect(token.length).toBeGreaterThanOrEqual(20);
    expect(result.invitation).toMatchObject({ email, role: 'member', orgId: fx.org.orgId, invitedBy: fx.org.users.admin.userId });
    expect(Date.parse(result.invitation.expiresAt) - Date.parse(result.invitation.createdAt)).toBe(14 * DAY_MS);
    expect(await ok<Invitation[]>(sockets.admin, 'invite.list')).toContainEqual(result.invitation);

    const auditEvent = await audited;
    const changeEvent = await changed;
    expect(changeEvent.data).toEqual(result.invitation);
    const entry = (await auditLog(fx.node, fx.org.orgId)).find((e) => e.action === 'member.invite' && e.target.name === email)!;
    expect(entry).toMatchObject({ outcome: 'ok', actor: { id: fx.org.users.admin.userId }, target: { type: 'invitation' } });
    expect(JSON.stringify(entry)).not.toContain(token);
    expect(JSON.stringify(auditEvent)).not.toContain(token);
    expect(JSON.stringify(await auditLog(fx.node, fx.org.orgId))).not.toContain(token);
    expect(JSON.stringify(sockets.admin.received)).not.toContain(token);
    expect(JSON.stringify(sockets.owner.received)).not.toContain(token);
    expect(JSON.stringify(await ok(sockets.admin, 'invite.list'))).not.toMatch(/tokenHash/);
  });

  it('a viewer or a member cannot invite', async () => {
    for (const role of ['viewer', 'member'] as const) {
      const error = await fails(sockets[role], 'member.invite', { email: `by.${role}@example.com`, role: 'viewer' });
      expect(error.code).toBe('FORBIDDEN');
    }
    const listed = (await ok<Invitation[]>(sockets.admin, 'invite.list')).map((i) => i.email);
    expect(listed).not.toContain('by.viewer@example.com');
    expect(listed).not.toContain('by.member@example.com');
  });

  it('inviting someone who is already a member is a CONFLICT, whatever the case of the address', async () => {
    for (const email of [fx.org.users.member.email, fx.org.users.member.email.toUpperCase()]) {
      const error = await fails(sockets.admin, 'member.invite', { email, role: 'viewer' });
      expect(error.code).toBe('CONFLICT');
    }
  });

  it('inviting someone with a pending invitation is a CONFLICT', async () => {
    await invite('twice@example.com');
    const error = await fails(sockets.admin, 'member.invite', { email: 'twice@example.com', role: 'admin' });
    expect(error.code).toBe('CONFLICT');
  });

  it('the owner role (or the legacy analyst role) cannot be invited: INVALID_INPUT naming the role', async () => {
    for (const role of ['owner', 'analyst']) {
      const error = await fails(sockets.owner, 'member.invite', { email: `would.be.${role}@example.com`, role });
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.issues?.map((issue) => issue.path)).toContain('role');
    }
    expect((await ok<Invitation[]>(sockets.owner, 'invite.list')).map((i) => i.email)).not.toContain('would.be.owner@example.com');
  });
});

describe('accepting an invitation', () => {
  it('creates the member with the invited role and signs them in; the link works only once', async () => {
    const { invitation, token } = await invite('nora@example.com', 'viewer');

    const accepted = await accept(token, 'Nora Newcomer', 'noras very own password');

    expect(accepted.status).toBe(200);
    expect(accepted.body.result.user).toMatchObject({ email: 'nora@example.com', name: 'Nora Newcomer' });
    expect(accepted.body.result.orgs).toContainEqual({ slug: fx.org.slug, name: expect.any(String), role: 'viewer' });
    const joined = (await members()).find((m) => m.email === 'nora@example.com');
    expect(joined).toMatchObject({ role: 'viewer', kind: 'user', name: 'Nora Newcomer' });
    expect((await ok<Invitation[]>(sockets.admin, 'invite.list')).map((i) => i.id)).not.toContain(invitation.id);
    // The session it started works, with the invited role.
    const cookie = accepted.headers.get('set-cookie')!.split(';')[0]!;
    const nora = await open({ cookie });
    expect((await ok(nora, 'me.get')).role).toBe('viewer');
    // So does the password chosen.
    expect((await http(fx.node, 'POST', '/api/v1/auth/login', { body: { email: 'nora@example.com', password: 'noras very own password' } })).status).toBe(200);

    const again = await accept(token, 'Nora Again', 'another long password');
    expect(again.status).toBe(404);
    expect(again.body.error?.code).toBe('NOT_FOUND');
    expect((await members()).filter((m) => m.email === 'nora@example.com')).toHaveLength(1);
  });

  it('an invitation lives 14 days: its keys expire with it', async () => {
    expect(INVITATION_LIFETIME_MS).toBe(14 * DAY_MS);
    const { invitation } = await invite('lifetime@example.com');
    const ttl = await fx.node.signet.redis.pttl(fx.node.signet.keys.invite(invitation.id));
    expect(ttl).toBeGreaterThan(14 * DAY_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(14 * DAY_MS);
  });

  it('an invitation past its expiry time cannot be accepted', async () => {
    const { invitation, token } = await invite('late@example.com');
    const key = fx.node.signet.keys.invite(invitation.id);
    // 14 days have passed (the record says so; Redis has not dropped it yet).
    const record = JSON.parse((await fx.node.signet.redis.get(key))!);
    record.expiresAt = new Date(Date.now() - 1000).toISOString();
    await fx.node.signet.redis.set(key, JSON.stringify(record), 'KEEPTTL');

    const response = await accept(token, 'Lena Late');

    expect(response.status).toBe(404);
    expect(response.body.error?.code).toBe('NOT_FOUND');
    expect((await members()).map((m) => m.email)).not.toContain('late@example.com');
  });

  it('an invitation whose keys have expired is gone: not listed, not acceptable, and the address can be invited again', async () => {
    const { invitation, token } = await invite('gone@example.com');
    const { redis, keys } = fx.node.signet;
    // 14 days have passed: Redis drops both the invitation and its token.
    for (const key of [keys.invite(invitation.id), keys.inviteToken(tokenHash(token))]) {
      expect(await redis.pexpireat(key, Date.now() - 1000)).toBe(1);
    }

    expect((await ok<Invitation[]>(sockets.admin, 'invite.list')).map((i) => i.id)).not.toContain(invitation.id);
    const response = await accept(token, 'Gabe Gone');
    expect(response.status).toBe(404);
    expect(response.body.error?.code).toBe('NOT_FOUND');
    const again = await invite('gone@example.com');
    expect(again.invitation.id).not.toBe(invitation.id);
  });
});

describe('invite.revoke', () => {
  it('an admin revokes an invitation: it leaves the list, is audited, and its link no longer works', async () => {
    const { invitation, token } = await invite('revoked@example.com');

    const result = await ok(sockets.admin, 'invite.revoke', { inviteId: invitation.id });

    expect(result).toEqual({ revoked: invitation.id });
    expect((await ok<Invitation[]>(sockets.admin, 'invite.list')).map((i) => i.id)).not.toContain(invitation.id);
    expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({
      action: 'invite.revoke',
      outcome: 'ok',
      target: { type: 'invitation', id: invitation.id },
    });
    const response = await accept(token, 'Rita Revoked');
    expect(response.status).toBe(404);
    expect(response.body.error?.code).toBe('NOT_FOUND');
    expect((await members()).map((m) => m.email)).not.toContain('revoked@example.com');
  });

  it('revoking an unknown invitation is NOT_FOUND', async () => {
    const error = await fails(sockets.admin, 'invite.revoke', { inviteId: 'no-such-invitation' });
    expect(error.code).toBe('NOT_FOUND');
  });
});

describe('member.changeRole', () => {
  it('an admin changes a member to viewer: the version goes up and the next command runs with the new role', async () => {
    const person = await addPerson('member');
    const socket = await open({ cookie: await signIn(fx.node, person) });
    const before = (await memberOf(person.userId))!;

    const updated = await ok<Member>(sockets.admin, 'member.changeRole', { userId: person.userId, role: 'viewer', version: before.version });

    expect(updated).toMatchObject({ userId: person.userId, role: 'viewer', version: before.version + 1 });
    expect(await memberOf(person.userId)).toEqual(updated);
    expect((await ok(socket, 'me.get')).role).toBe('viewer');
    const refused = await fails(socket, 'apiKey.create', { name: 'too late', permissions: ['signing:read'] });
    expect(refused.code).toBe('FORBIDDEN');
    expect((await auditLog(fx.node, fx.org.orgId)).find((e) => e.action === 'member.changeRole' && e.target.id === person.userId)).toMatchObject({
      outcome: 'ok',
      actor: { id: fx.org.users.admin.userId },
      changes: { role: { before: 'member', after: 'viewer' } },
    });
  });

  it('nobody changes their own role', async () => {
    for (const role of ['admin', 'owner'] as const) {
      const self = (await memberOf(fx.org.users[role].userId))!;
      const error = await fails(sockets[role], 'member.changeRole', { userId: self.userId, role: 'viewer', version: self.version });
      expect(error.code).toBe('FORBIDDEN');
      expect(await memberOf(self.userId)).toEqual(self);
    }
  });

  it('the owner’s role cannot be changed', async () => {
    const owner = (await memberOf(fx.org.users.owner.userId))!;
    const error = await fails(sockets.admin, 'member.changeRole', { userId: owner.userId, role: 'admin', version: owner.version });
    expect(error.code).toBe('FORBIDDEN');
    expect(await memberOf(owner.userId)).toEqual(owner);
  });

  it('the owner role (or the legacy analyst role) cannot be given: INVALID_INPUT naming the role', async () => {
    const member = (await memberOf(fx.org.users.member.userId))!;
    for (const role of ['owner', 'analyst']) {
      const error = await fails(sockets.owner, 'member.changeRole', { userId: member.userId, role, version: member.version });
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.issues?.map((issue) => issue.path)).toContain('role');
    }
    expect(await memberOf(member.userId)).toEqual(member);
  });

  it('a stale change gets CONFLICT with the current member, and does not overwrite', async () => {
    const person = await addPerson('member');
    const read = (await memberOf(person.userId))!;
    const current = await ok<Member>(sockets.owner, 'member.changeRole', { userId: person.userId, role: 'viewer', version: read.version });

    const error = await fails(sockets.admin, 'member.changeRole', { userId: person.userId, role: 'admin', version: read.version });

    expect(error.code).toBe('CONFLICT');
    expect(error.current).toEqual(current);
    expect(await memberOf(person.userId)).toEqual(current);
  });

  it('changing the role of an unknown user is NOT_FOUND', async () => {
    const error = await fails(sockets.admin, 'member.changeRole', { userId: 'nobody-here', role: 'viewer', version: 1 });
    expect(error.code).toBe('NOT_FOUND');
  });

  it('a stored legacy analyst can do exactly what a member can', async () => {
    const person = await addPerson('member');
    const key = fx.node.signet.keys.member(fx.org.orgId, person.userId);
    const record = JSON.parse((await fx.node.signet.redis.get(key))!);
    await fx.node.signet.redis.set(key, JSON.stringify({ ...record, role: 'analyst' }));
    const analyst = await open({ cookie: await signIn(fx.node, person) });

    const me = await ok(analyst, 'me.get');
    expect(me.role).toBe('analyst');
    expect([...me.permissions].sort()).toEqual([...permissionsOf('member')].sort());
    expect((await memberOf(person.userId))!.role).toBe('analyst');
    const created = await command(analyst, 'apiKey.create', { name: 'analyst key', permissions: ['signing:read', 'team:read'] });
    expect(created.ok).toBe(true);
    expect((await command(analyst, 'member.list')).ok).toBe(true);
    expect((await fails(analyst, 'member.invite', { email: 'by.analyst@example.com', role: 'viewer' })).code).toBe('FORBIDDEN');
    expect((await fails(analyst, 'audit.query', {})).code).toBe('FORBIDDEN');
  });
});

describe('member.remove', () => {
  it('the owner cannot be removed', async () => {
    const error = await fails(sockets.admin, 'member.remove', { userId: fx.org.users.owner.userId });
    expect(error.code).toBe('FORBIDDEN');
    expect((await memberOf(fx.org.users.owner.userId))?.role).toBe('owner');
  });

  it('nobody removes themselves', async () => {
    const error = await fails(sockets.admin, 'member.remove', { userId: fx.org.users.admin.userId });
    expect(error.code).toBe('FORBIDDEN');
    expect((await memberOf(fx.org.users.admin.userId))?.role).toBe('admin');
  });

  it('removing an unknown user is NOT_FOUND', async () => {
    const error = await fails(sockets.admin, 'member.remove', { userId: 'nobody-here' });
    expect(error.code).toBe('NOT_FOUND');
  });

  it('removal ends the member’s sessions and kills their API keys', async () => {
    const person = await addPerson('member');
    const socket = await open({ cookie: await signIn(fx.node, person) });
    const { token } = await ok(socket, 'apiKey.create', { name: 'doomed', permissions: ['team:read'] });
    expect((await restCommand(fx.node, 'member.list', {}, { token })).status).toBe(200);
    const revoked = nextEvent(socket, 'revoked');

    const result = await ok(sockets.admin, 'member.remove', { userId: person.userId });

    expect(result).toEqual({ removed: person.userId, revokedApiKeys: 1 });
    expect(await memberOf(person.userId)).toBeUndefined();
    expect((await revoked).reason).toMatch(/no longer a member/);
    const refused = await restCommand(fx.node, 'member.list', {}, { token });
    expect(refused.status).toBe(401);
    expect(refused.body.error?.code).toBe('UNAUTHENTICATED');
    expect((await auditLog(fx.node, fx.org.orgId)).find((e) => e.action === 'member.remove' && e.target.id === person.userId)).toMatchObject({
      outcome: 'ok',
      actor: { id: fx.org.users.admin.userId },
    });
  });
});

describe('signing in is audited', () => {
  it('success and failure are both audited, and no password ever reaches the audit log', async () => {
    const password = 'Quokka-Sunrise-4471-secret';
    const wrong = 'Wombat-Midnight-9923-guess';
    const person = await addPerson('viewer', password);

    const failed = await http(fx.node, 'POST', '/api/v1/auth/login', { body: { email: person.email, password: wrong } });
    expect(failed.status).toBe(401);
    expect(failed.body.error?.code).toBe('UNAUTHENTICATED');
    await signIn(fx.node, person);

    const signIns = (await auditLog(fx.node, fx.org.orgId)).filter((e) => e.action === 'auth.signIn' && e.actor.id === person.userId);
    expect(signIns.map((e) => e.outcome)).toEqual(['failed', 'ok']);
    expect(signIns[0]).toMatchObject({ target: { type: 'user', id: person.userId }, source: { via: 'rest' } });
    const everything = JSON.stringify(await auditLog(fx.node, fx.org.orgId));
    for (const secret of [password, wrong, 'noras very own password', 'a long enough password', 'correct horse battery staple']) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toMatch(/\$argon2/);
  });
});
