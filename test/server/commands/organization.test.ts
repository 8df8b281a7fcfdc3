// me.get, org.get, org.update, org.delete (SPEC §2, §3, §7).
import { beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role, permissionsOf } from '../../../src/lib/shared/permissions.js';
import type { Organization } from '../../../src/lib/shared/entities.js';
import { auditLog, command, connect, http, nextEvent, restCommand, seedOrg, signIn, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { useSignet } from '../../helpers/signetFixture.js';

const fx = useSignet();
const { as: sockets, cookies, open, ok } = fx;

const A: Record<Role, string> = { owner: 'an owner', admin: 'an admin', member: 'a member', viewer: 'a viewer' };



describe('me.get', () => {
  for (const role of ROLES) {
    it(`tells ${A[role]} who they are, their role and exactly the permissions of that role`, async () => {
      const me = await ok(sockets[role], 'me.get');
      expect(me.role).toBe(role);
      expect(me.user).toMatchObject({ id: fx.org.users[role].userId, email: fx.org.users[role].email });
      expect(me.org).toMatchObject({ id: fx.org.orgId, slug: fx.org.slug });
      expect([...me.rolePermissions].sort()).toEqual([...permissionsOf(role)].sort());
      expect([...me.permissions].sort()).toEqual([...permissionsOf(role)].sort());
      expect(me.actor).toMatchObject({ type: 'user', id: fx.org.users[role].userId });
      // Nothing secret about the account comes back.
      expect(JSON.stringify(me)).not.toMatch(/argon2|passwordHash/i);
    });
  }

  it('for an API key, reports the key’s list intersected with its owner’s role', async () => {
    const { token } = await ok(sockets.member, 'apiKey.create', { name: 'me key', permissions: ['signing:read', 'team:read'] });
    const response = await restCommand(fx.node, 'me.get', {}, { token });
    expect(response.status).toBe(200);
    expect(response.body.result.role).toBe('member');
    expect([...response.body.result.permissions].sort()).toEqual(['signing:read', 'team:read']);
    expect(response.body.result.actor).toMatchObject({ type: 'apiKey', onBehalfOf: { id: fx.org.users.member.userId } });
  });
});

describe('org.get', () => {
  it('shows every member the organization, with its owner and version', async () => {
    for (const role of ROLES) {
      const current = await ok<Organization>(sockets[role], 'org.get');
      expect(current).toMatchObject({
        id: fx.org.orgId,
        slug: fx.org.slug,
        ownerId: fx.org.users.owner.userId,
        openSource: false,
        supportAuthorized: false,
      });
      expect(current.version).toBeGreaterThanOrEqual(1);
      expect(current).not.toHaveProperty('deletedAt');
    }
  });
});

describe('org.update', () => {
  it('an admin renames the organization: the version goes up, everyone sees the change live, and it is audited', async () => {
    const before = await ok<Organization>(sockets.admin, 'org.get');
    const seen = nextEvent(sockets.viewer, 'change', (event) => event.entity === 'organization' && event.op === 'updated');

    const updated = await ok<Organization>(sockets.admin, 'org.update', { name: 'Acme Signing', version: before.version });

    expect(updated).toMatchObject({ id: fx.org.orgId, name: 'Acme Signing', version: before.version + 1 });
    const event = await seen;
    expect(event.data).toMatchObject({ name: 'Acme Signing' });
    expect(event.version).toBe(before.version + 1);
    expect(await ok<Organization>(sockets.viewer, 'org.get')).toEqual(updated);
    const entry = (await auditLog(fx.node, fx.org.orgId)).at(-1)!;
    expect(entry).toMatchObject({
      action: 'org.update',
      outcome: 'ok',
      actor: { id: fx.org.users.admin.userId },
      target: { type: 'organization', id: fx.org.orgId },
      changes: { name: { before: before.name, after: 'Acme Signing' } },
    });
  });

  it('a stale update gets CONFLICT with the current organization, and does not overwrite', async () => {
    const read = await ok<Organization>(sockets.owner, 'org.get');
    const current = await ok<Organization>(sockets.admin, 'org.update', { name: 'Renamed by the admin', version: read.version });

    const stale = await command(sockets.owner, 'org.update', { name: 'Renamed by the owner', version: read.version });

    expect(stale.ok).toBe(false);
    if (stale.ok) return;
    expect(stale.error.code).toBe('CONFLICT');
    expect(stale.error.current).toEqual(current);
    expect(await ok<Organization>(sockets.owner, 'org.get')).toEqual(current);
  });

  it('surrounding spaces are trimmed from the name', async () => {
    const read = await ok<Organization>(sockets.owner, 'org.get');
    const updated = await ok<Organization>(sockets.owner, 'org.update', { name: '   Trimmed Inc   ', version: read.version });
    expect(updated.name).toBe('Trimmed Inc');
  });

  it('an empty, blank or overlong name is INVALID_INPUT naming the name, and changes nothing', async () => {
    const read = await ok<Organization>(sockets.owner, 'org.get');
    for (const name of ['', '    ', 'x'.repeat(121), 17]) {
      const ack = await command(sockets.owner, 'org.update', { name, version: read.version });
      expect(ack.ok).toBe(false);
      if (ack.ok) continue;
      expect(ack.error.code).toBe('INVALID_INPUT');
      expect(ack.error.issues?.map((issue) => issue.path)).toContain('name');
    }
    expect(await ok<Organization>(sockets.owner, 'org.get')).toEqual(read);
  });

  it('a member or a viewer cannot rename the organization', async () => {
    const read = await ok<Organization>(sockets.owner, 'org.get');
    for (const role of ['member', 'viewer'] as const) {
      const ack = await command(sockets[role], 'org.update', { name: 'Mine now', version: read.version });
      expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    }
    expect(await ok<Organization>(sockets.owner, 'org.get')).toEqual(read);
  });
});

describe('org.delete', () => {
  let doomed: TestOrg;
  const doomedCookies = {} as Record<Role, string>;
  const doomedSockets = {} as Record<Role, ClientSocket>;

  beforeAll(async () => {
    doomed = await seedOrg(fx.node);
    for (const role of ROLES) {
      doomedCookies[role] = await signIn(fx.node, doomed.users[role]);
      doomedSockets[role] = await open({ cookie: doomedCookies[role] });
    }
  });

  it('only the owner may delete: an admin gets FORBIDDEN and the organization stays', async () => {
    const ack = await command(doomedSockets.admin, 'org.delete', { confirmSlug: doomed.slug });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    expect(!ack.ok && ack.error.message).toContain('org:delete');
    expect((await ok<Organization>(doomedSockets.owner, 'org.get')).slug).toBe(doomed.slug);
  });

  it('a wrong confirmation slug is INVALID_INPUT naming confirmSlug, and the organization stays', async () => {
    for (const confirmSlug of [fx.org.slug, 'not-the-slug']) {
      const ack = await command(doomedSockets.owner, 'org.delete', { confirmSlug });
      expect(ack.ok).toBe(false);
      if (ack.ok) continue;
      expect(ack.error.code).toBe('INVALID_INPUT');
      expect(ack.error.issues?.map((issue) => issue.path)).toEqual(['confirmSlug']);
    }
    expect((await ok<Organization>(doomedSockets.owner, 'org.get')).slug).toBe(doomed.slug);
    expect((await ok<Organization>(sockets.owner, 'org.get')).slug).toBe(fx.org.slug);
  });

  it('the owner deletes it: every socket of the organization is cut off before the answer, and only those', async () => {
    const { token } = await ok(doomedSockets.member, 'apiKey.create', { name: 'doomed key', permissions: ['team:read'] });
    const keySocket = await open({ token });
    const everyone = [...ROLES.map((role) => doomedSockets[role]), keySocket];
    const revoked = everyone.map((socket) => nextEvent(socket, 'revoked'));

    const response = await restCommand(fx.node, 'org.delete', { confirmSlug: doomed.slug }, { cookie: doomedCookies.owner });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ ok: true, result: { deleted: true } });
    for (const reason of await Promise.all(revoked)) expect(reason.reason).toMatch(/deleted|no longer|revoked/i);
    for (const socket of everyone) expect(socket.connected).toBe(false);
    // Another organization on the same node is untouched.
    expect(sockets.viewer.connected).toBe(true);
    expect((await ok<Organization>(sockets.viewer, 'org.get')).slug).toBe(fx.org.slug);

    // The slug no longer resolves …
    expect(await fx.node.signet.redis.hget(fx.node.signet.keys.orgSlugs, doomed.slug)).toBeNull();
    const viaSlug = await restCommand(fx.node, 'org.get', {}, { cookie: doomedCookies.admin, org: doomed.slug });
    expect(viaSlug.status).toBe(404);
    expect(viaSlug.body.error?.code).toBe('NOT_FOUND');
    await expect(connect(fx.node, { cookie: doomedCookies.admin, org: doomed.slug })).rejects.toThrow();
    // … the organization's API keys are dead …
    const viaKey = await restCommand(fx.node, 'me.get', {}, { token });
    expect(viaKey.status).toBe(401);
    expect(viaKey.body.error?.code).toBe('UNAUTHENTICATED');
    // … and its audit log is kept, ending with the deletion.
    expect((await auditLog(fx.node, doomed.orgId)).at(-1)).toMatchObject({
      action: 'org.delete',
      outcome: 'ok',
      actor: { id: doomed.users.owner.userId },
    });
  });

  it('afterwards signing in shows no such organization', async () => {
    for (const role of ROLES) {
      const response = await http(fx.node, 'POST', '/api/v1/auth/login', {
        body: { email: doomed.users[role].email, password: doomed.users[role].password },
      });
      expect(response.status).toBe(200);
      expect(response.body.result.orgs.map((o: { slug: string }) => o.slug)).not.toContain(doomed.slug);
      expect(response.body.result.orgs).toEqual([]);
    }
  });
});
