// Notifications (SPEC §5): a per-user inbox pushed live to that user only, seen on return by a user
// who was offline; per-policy settings. Presence (SPEC §7): who is online and on which page.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../../src/lib/shared/permissions.js';
import { command, connect, lastSeenSeq, nextEvent, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { createPolicy, createProject, generateCertificate } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

type Connected = Awaited<ReturnType<typeof connect>>;

const fx = useSignet();
const { as, cookies, open } = fx;
/** A second organization, to show what does not cross over. */
let elsewhere: { org: TestOrg; as: Record<Role, Connected> };

/** The owner moves a user between viewer and member (each change notifies them); returns the new role. */
async function flipRole(userId: string): Promise<string> {
  const members = await command<any[]>(as.owner, 'member.list');
  const member = (members.ok ? members.result : []).find((m) => m.userId === userId);
  const role = member.role === 'viewer' ? 'member' : 'viewer';
  const ack = await command(as.owner, 'member.changeRole', { userId, role, version: member.version });
  if (!ack.ok) throw new Error(`member.changeRole failed: ${JSON.stringify(ack.error)}`);
  return role;
}

async function inbox(socket: ClientSocket) {
  const ack = await command<{ items: Array<{ id: string; kind: string; userId: string; readAt: string | null }>; unreadCount: number }>(
    socket,
    'notification.list',
  );
  if (!ack.ok) throw new Error(`notification.list failed: ${JSON.stringify(ack.error)}`);
  return ack.result;
}

const notificationsReceived = (socket: Connected) => socket.received.filter((r) => r.event === 'notification');

beforeAll(async () => {
  elsewhere = await fx.team();
});

describe('notifications', () => {
  it('a role change notifies that member on their socket, and nobody else', async () => {
    const before = await inbox(as.member);
    const othersBefore = (['owner', 'admin', 'viewer'] as const).map((role) => notificationsReceived(as[role]).length);
    const delivered = nextEvent(as.member, 'notification');
    const newRole = await flipRole(fx.org.users.member.userId);
    const event = await delivered;
    expect(event.notification).toMatchObject({ userId: fx.org.users.member.userId, orgId: fx.org.orgId, kind: 'member.roleChanged', readAt: null });
    expect(event.notification.body).toContain(newRole);
    expect(event.unreadCount).toBe(before.unreadCount + 1);
    expect(event.seq).toBeGreaterThan(0);

    // A round trip on every other socket: anything broadcast earlier has arrived by now.
    for (const [i, role] of (['owner', 'admin', 'viewer'] as const).entries()) {
      await command(as[role], 'me.get');
      expect(notificationsReceived(as[role]).length).toBe(othersBefore[i]);
    }
    for (const socket of Object.values(elsewhere.as)) {
      await command(socket, 'me.get');
      expect(notificationsReceived(socket)).toEqual([]);
    }

    const list = await inbox(as.member);
    expect(list.unreadCount).toBe(before.unreadCount + 1);
    expect(list.items[0]!.id).toBe(event.notification.id);
  });

  it('a fresh inbox has unreadCount 1 after one notification, and only the recipient lists it', async () => {
    const fresh = elsewhere.org.users.viewer.userId;
    const members = await command<any[]>(elsewhere.as.owner, 'member.list');
    const viewer = (members.ok ? members.result : []).find((m) => m.userId === fresh);
    const delivered = nextEvent(elsewhere.as.viewer, 'notification');
    expect((await command(elsewhere.as.owner, 'member.changeRole', { userId: fresh, role: 'member', version: viewer.version })).ok).toBe(true);
    const event = await delivered;

    const list = await inbox(elsewhere.as.viewer);
    expect(list.unreadCount).toBe(1);
    expect(list.items.map((item) => item.id)).toEqual([event.notification.id]);
    expect(list.items[0]).toMatchObject({ kind: 'member.roleChanged', readAt: null });
    const ownersInbox = await inbox(elsewhere.as.owner);
    expect(ownersInbox.items.map((item) => item.id)).not.toContain(event.notification.id);
  });

  it('a user who was offline sees the notification on return: in the list, and replayed from lastSeq', async () => {
    const before = await inbox(as.viewer);
    await command(as.viewer, 'me.get');
    const lastSeq = lastSeenSeq(as.viewer);
    as.viewer.close();
    await flipRole(fx.org.users.viewer.userId);

    const back = await open({ cookie: cookies.viewer, lastSeq });
    expect(back.ready.resumed).toBe(true);
    const replayed = notificationsReceived(back);
    expect(replayed).toHaveLength(1);
    expect(replayed[0]!.data.notification).toMatchObject({ userId: fx.org.users.viewer.userId, kind: 'member.roleChanged' });
    expect(replayed[0]!.data.seq).toBeGreaterThan(lastSeq);
    as.viewer = back;

    const list = await inbox(back);
    expect(list.unreadCount).toBe(before.unreadCount + 1);
    expect(list.items[0]!.id).toBe(replayed[0]!.data.notification.id);

    // Another user resuming from the same point is handed only their own notifications, not the viewer's.
    const memberBack = await open({ cookie: cookies.member, lastSeq });
    expect(memberBack.ready.replayed).toBeGreaterThan(0);
    const forMember = notificationsReceived(memberBack).map((r) => r.data.notification.userId);
    expect(forMember.filter((userId) => userId !== fx.org.users.member.userId)).toEqual([]);
  });

  it('markRead with ids, then with all: true, brings the unread count to 0', async () => {
    const user = fx.org.users.admin.userId;
    await command(as.admin, 'notification.markRead', { all: true });
    expect((await inbox(as.admin)).unreadCount).toBe(0);
    await flipRole(user);
    await flipRole(user);
    const before = await inbox(as.admin);
    expect(before.unreadCount).toBe(2);
    const [newest, oldest] = before.items;

    const one = await command<any>(as.admin, 'notification.markRead', { ids: [oldest!.id] });
    expect(one.ok && one.result).toMatchObject({ marked: 1, unreadCount: 1 });
    const middle = await inbox(as.admin);
    expect(middle.unreadCount).toBe(1);
    expect(middle.items.find((item) => item.id === oldest!.id)?.readAt).toEqual(expect.any(String));
    expect(middle.items.find((item) => item.id === newest!.id)?.readAt).toBeNull();

    const all = await command<any>(as.admin, 'notification.markRead', { all: true });
    expect(all.ok && all.result).toMatchObject({ marked: 1, unreadCount: 0 });
    const after = await inbox(as.admin);
    expect(after.unreadCount).toBe(0);
    expect(after.items.length).toBeGreaterThanOrEqual(2);
    expect(after.items.every((item) => item.readAt !== null)).toBe(true);
  });

  it('marking an unknown notification is NOT_FOUND, and an empty id list is INVALID_INPUT; neither changes anything', async () => {
    await flipRole(fx.org.users.member.userId);
    const before = await inbox(as.member);
    const [mine] = before.items;
    expect(mine?.readAt).toBeNull();

    const unknown = await command(as.member, 'notification.markRead', { ids: [mine!.id, 'no-such-notification'] });
    expect(unknown.ok).toBe(false);
    expect(!unknown.ok && unknown.error.code).toBe('NOT_FOUND');

    const empty = await command(as.member, 'notification.markRead', { ids: [] });
    expect(empty.ok).toBe(false);
    expect(!empty.ok && empty.error.code).toBe('INVALID_INPUT');
    expect(!empty.ok && empty.error.issues?.map((issue) => issue.path)).toEqual(['ids']);

    // Someone else's notification is not theirs to mark either.
    const foreign = await command(as.owner, 'notification.markRead', { ids: [mine!.id] });
    expect(!foreign.ok && foreign.error.code).toBe('NOT_FOUND');

    const after = await inbox(as.member);
    expect(after.unreadCount).toBe(before.unreadCount);
    expect(after.items[0]!.readAt).toBeNull();
  });

  it('per-policy settings: a level set is returned, and "default" removes it', async () => {
    const project = await createProject(as.owner, 'notified-app');
    const certificate = await generateCertificate(as.owner, 'notified-cert');
    const { id: policyId } = await createPolicy(as.owner, { projectId: project.id, slug: 'release-signing', certificateId: certificate.id, submitters: [] });
    const set = await command<any>(as.member, 'notification.settings', { set: [{ policyId, level: 'none' }] });
    expect(set.ok && set.result.policies).toEqual({ [policyId]: 'none' });

    const read = await command<any>(as.member, 'notification.settings', {});
    expect(read.ok && read.result.policies).toEqual({ [policyId]: 'none' });
    // Settings are per user.
    const others = await command<any>(as.admin, 'notification.settings', {});
    expect(others.ok && others.result.policies).toEqual({});

    const reset = await command<any>(as.member, 'notification.settings', { set: [{ policyId, level: 'default' }] });
    expect(reset.ok && reset.result.policies).toEqual({});
    const readAgain = await command<any>(as.member, 'notification.settings', {});
    expect(readAgain.ok && readAgain.result.policies).toEqual({});
  });

  it('a level for a policy that is not this organization\'s is INVALID_INPUT naming it, and nothing is stored', async () => {
    const project = await createProject(elsewhere.as.owner, 'foreign-app');
    const certificate = await generateCertificate(elsewhere.as.owner, 'foreign-cert');
    const foreign = await createPolicy(elsewhere.as.owner, { projectId: project.id, slug: 'foreign', certificateId: certificate.id, submitters: [] });
    for (const policyId of [foreign.id, 'no-such-policy']) {
      const refused = await command<any>(as.member, 'notification.settings', { set: [{ policyId, level: 'all' }] });
      expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'set.0.policyId' }] });
    }
    const read = await command<any>(as.member, 'notification.settings', {});
    expect(read.ok && read.result.policies).toEqual({});
  });
});

describe('presence', () => {
  it('presence.update reaches the other sockets of the organization, and not those of another organization', async () => {
    const onTeamPage = (event: { online: Array<{ userId: string; page: string }> }) =>
      event.online.some((entry) => entry.userId === fx.org.users.member.userId && entry.page === '/team');

    const seenByAdmin = nextEvent(as.admin, 'presence', onTeamPage);
    const seenByOwner = nextEvent(as.owner, 'presence', onTeamPage);
    const updated = await command<any>(as.member, 'presence.update', { page: '/team' });
    expect(updated.ok).toBe(true);
    expect(updated.ok && onTeamPage(updated.result)).toBe(true);

    const event = await seenByAdmin;
    await seenByOwner;
    const entry = event.online.find((e) => e.userId === fx.org.users.member.userId)!;
    expect(entry).toMatchObject({ name: 'Mia Member', page: '/team' });
    expect(event.online.map((e) => e.userId)).toEqual(expect.arrayContaining([fx.org.users.owner.userId, fx.org.users.admin.userId]));

    for (const socket of Object.values(elsewhere.as)) {
      // Presence after a connect is broadcast shortly (coalesced): wait for it if it has not come yet.
      if (!socket.received.some((r) => r.event === 'presence')) await nextEvent(socket, 'presence');
      await command(socket, 'me.get');
      const presence = socket.received.filter((r) => r.event === 'presence');
      expect(presence.length).toBeGreaterThan(0); // they do see their own organization's presence
      for (const { data } of presence) {
        expect(data.online.map((e: { userId: string }) => e.userId)).not.toContain(fx.org.users.member.userId);
        expect(data.online.map((e: { page: string }) => e.page)).not.toContain('/team');
      }
    }
  });
});
