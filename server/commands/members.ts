// member.list, member.invite, member.changeRole, member.remove, invite.list, invite.revoke
import { assignableRolesFor, memberChangeRefusal } from '../../src/lib/shared/rules.js';
import type { AccessScope, Audience, WriteOp } from '../store/commit.js';
import type { MemberRecord } from '../store/records.js';
import { toInvitation } from '../store/records.js';
import { INVITATION_LIFETIME_MS, invitationLink, invitationMail, invitationWrites, newInvitation } from '../auth/invitations.js';
import { emailConfigured, planOutreach } from '../outreach/plan.js';
import { mailDelivery } from '../outreach/mail.js';
import { assertNotSupport, assertVersion, defineCommand, type CommandContext } from './define.js';
import { changeEvent } from '../store/events.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { keyRevocationWrites } from './apiKeys.js';

export { INVITATION_LIFETIME_MS };
const TEAM: Audience[] = ['p:team:read'];
const TEAM_MANAGERS: Audience[] = ['p:team:manage'];

export const listMembers = defineCommand({
  name: 'member.list',
  async handler({ actor, repos }) {
    const members = await repos.members(actor.orgId);
    return members.sort((a, b) => a.joinedAt.localeCompare(b.joinedAt));
  },
});

export const inviteMember = defineCommand({
  name: 'member.invite',
  async handler({ actor, repos, commit, signet }, input) {
    const { keys } = repos;
    assertNotSupport(actor, 'invite people');
    const existingUserId = await repos.userIdByEmail(input.email);
    const existingUser = existingUserId ? (await repos.user(existingUserId))?.value : undefined;
    if (existingUser?.kind === 'ciUser' || input.email.endsWith('.ci.signet.invalid')) {
      throw invalid('email', 'belongs to a CI user, who cannot be invited');
    }
    if (existingUserId && (await repos.member(actor.orgId, existingUserId))) {
      throw conflict(`${input.email} is already a member of this organization`);
    }
    const pending = (await repos.invitations(actor.orgId)).find((invitation) => invitation.email === input.email);
    if (pending) throw conflict(`${input.email} already has a pending invitation; revoke it to invite again`);

    const { invitation, token } = newInvitation(actor.orgId, input.email, input.role, actor.userId);
    const link = invitationLink(signet.config.publicUrl, token);
    // The link is mailed to the person invited, sealed (under the master key) until it is sent.
    const mailed = emailConfigured(signet.config);
    const outreach = await planOutreach(signet, {
      orgId: actor.orgId,
      mail: mailed
        ? [mailDelivery(signet.config, actor.orgId, invitation.email, invitationMail(signet.config.publicUrl, invitation, link, { org: actor.org.name, inviter: actor.name }), { sealed: true })]
        : [],
    });
    await commit({
      target: { type: 'invitation', id: invitation.id, name: invitation.email },
      changes: { email: { before: null, after: invitation.email }, role: { before: null, after: invitation.role }, mailed: { before: null, after: mailed } },
      expect: [{ key: keys.invite(invitation.id), equals: null }],
      ops: [...invitationWrites(keys, invitation), ...outreach.ops],
      events: [changeEvent(actor.orgId, 'invitation', 'created', invitation.id, toInvitation(invitation), TEAM_MANAGERS)],
    });
    await outreach.afterCommit();
    // The link carries the secret token: it is shown to the inviter once, never stored in the clear or logged.
    return { invitation: toInvitation(invitation), inviteLink: link, mailed };
  },
});

/** Loads a member another member may manage (rules.ts: never oneself, never the owner). */
async function manageableMember(context: CommandContext, userId: string, what: string) {
  const { actor, repos } = context;
  if (userId === actor.userId) throw forbidden(`Nobody can ${what} themselves`);
  const stored = await repos.member(actor.orgId, userId);
  if (!stored) throw notFound(`Member ${userId}`);
  if (memberChangeRefusal(stored.value, actor.userId) === 'owner') {
    throw forbidden(`The owner cannot be ${what === 'remove' ? 'removed' : 'given another role'}; ownership moves only through an operator`);
  }
  return stored;
}

export const changeMemberRole = defineCommand({
  name: 'member.changeRole',
  async handler(context, input) {
    const { actor, repos, commit, signet } = context;
    const { keys } = repos;
    const stored = await manageableMember(context, input.userId, 'change the role of');
    const member = stored.value;
    assertVersion(`Member ${member.name}`, input.version, member, member);
    if (!assignableRolesFor(member).includes(input.role)) {
      throw invalid('role', 'a CI user can be a member or a viewer, not an admin');
    }
    if (member.role === input.role) return member;
    const updated: MemberRecord = { ...member, role: input.role, version: member.version + 1 };
    const outreach = await planOutreach(signet, {
      orgId: actor.orgId,
      people: [
        {
          member,
          note: {
            kind: 'member.roleChanged',
            title: 'Your role changed',
            body: `${actor.name} changed your role in ${actor.org.name} from ${member.role} to ${input.role}.`,
            link: '/settings',
          },
        },
      ],
    });
    await commit({
      target: { type: 'member', id: member.userId, name: member.name },
      changes: { role: { before: member.role, after: updated.role } },
      expect: [{ key: keys.member(actor.orgId, member.userId), equals: stored.raw }],
      ops: [['set', keys.member(actor.orgId, member.userId), JSON.stringify(updated)], ...outreach.ops],
      events: [changeEvent(actor.orgId, 'member', 'updated', member.userId, updated, TEAM), ...outreach.events],
      // Demotion or promotion applies to the member's live sockets, in order with the events.
      access: [{ orgId: actor.orgId, userId: member.userId }],
    });
    await outreach.afterCommit();
    return updated;
  },
});

/**
 * Writes that remove a member and the API keys they own in the organization, with every key created
 * with one of those (which may belong to others, CI users): the sockets of `descendantKeyIds` must be
 * re-checked besides the member's own.
 */
export async function memberRemovalWrites(context: CommandContext, member: MemberRecord) {
  const { actor, repos } = context;
  const { keys } = repos;
  const ownKeys = (await repos.apiKeys(actor.orgId)).filter(({ record }) => record.ownerId === member.userId).map(({ record }) => record);
  const revocation = await keyRevocationWrites(context, ownKeys);
  const ops: WriteOp[] = [
    ['del', keys.member(actor.orgId, member.userId)],
    ['srem', keys.orgMembers(actor.orgId), member.userId],
    ['srem', keys.userOrgs(member.userId), actor.orgId],
    ...revocation.ops,
  ];
  if (member.kind === 'ciUser') ops.push(['del', keys.user(member.userId)], ['hdel', keys.usersByEmail, member.email], ['del', keys.userOrgs(member.userId)]);
  const events = [changeEvent(actor.orgId, 'member', 'deleted', member.userId, undefined, TEAM), ...revocation.events];
  const descendantKeyIds = revocation.descendants.map((key) => key.id);
  const access: AccessScope[] = [{ orgId: actor.orgId, userId: member.userId }];
  if (descendantKeyIds.length) access.push({ keyIds: descendantKeyIds });
  return { ops, events, alsoAudited: revocation.alsoAudited, revokedKeys: ownKeys.length, access };
}

export const removeMember = defineCommand({
  name: 'member.remove',
  async handler(context, input) {
    const { actor, repos, commit } = context;
    const stored = await manageableMember(context, input.userId, 'remove');
    const member = stored.value;
    const removal = await memberRemovalWrites(context, member);
    await commit({
      target: { type: member.kind === 'ciUser' ? 'ciUser' : 'member', id: member.userId, name: member.name },
      changes: { role: { before: member.role, after: null } },
      expect: [{ key: repos.keys.member(actor.orgId, member.userId), equals: stored.raw }],
      ops: removal.ops,
      events: removal.events,
      alsoAudited: removal.alsoAudited,
      access: removal.access,
    });
    return { removed: member.userId, revokedApiKeys: removal.revokedKeys };
  },
});

export const listInvitations = defineCommand({
  name: 'invite.list',
  async handler({ actor, repos }) {
    const invitations = await repos.invitations(actor.orgId);
    return invitations.map(toInvitation).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  },
});

export const revokeInvitation = defineCommand({
  name: 'invite.revoke',
  async handler({ actor, repos, commit }, input) {
    const { keys } = repos;
    const stored = await repos.invitation(input.inviteId);
    if (!stored || stored.value.orgId !== actor.orgId) throw notFound(`Invitation ${input.inviteId}`);
    const invitation = stored.value;
    await commit({
      target: { type: 'invitation', id: invitation.id, name: invitation.email },
      changes: { status: { before: 'pending', after: 'revoked' } },
      expect: [{ key: keys.invite(invitation.id), equals: stored.raw }],
      ops: [
        ['del', keys.invite(invitation.id)],
        ['del', keys.inviteToken(invitation.tokenHash)],
        ['srem', keys.orgInvites(actor.orgId), invitation.id],
      ],
      events: [changeEvent(actor.orgId, 'invitation', 'deleted', invitation.id, undefined, TEAM_MANAGERS)],
    });
    return { revoked: invitation.id };
  },
});
