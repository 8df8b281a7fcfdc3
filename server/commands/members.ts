// member.list, member.invite, member.changeRole, member.remove, invite.list, invite.revoke
import { assignableRolesFor, memberChangeRefusal } from '../../src/lib/shared/rules.js';
import type { AccessScope } from '../store/commit.js';
import type { Loaded } from '../store/plan.js';
import { combinePlans } from '../store/plan.js';
import type { MemberRecord } from '../store/records.js';
import { toInvitation } from '../store/records.js';
import { INVITATION_LIFETIME_MS } from '../store/invitations.js';
import { invitationLink, invitationMail, newInvitation } from '../auth/invitations.js';
import { emailConfigured, planOutreach } from '../outreach/plan.js';
import { mailDelivery } from '../outreach/mail.js';
import { assertNotSupport, assertVersion, defineCommand, type Change, type CommandContext } from './define.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { keyRevocation } from './apiKeys.js';

export { INVITATION_LIFETIME_MS };

export const listMembers = defineCommand({
  name: 'member.list',
  async handler({ actor, store }) {
    const members = await store.members.list(actor.orgId);
    return members.sort((a, b) => a.joinedAt.localeCompare(b.joinedAt));
  },
});

export const inviteMember = defineCommand({
  name: 'member.invite',
  async handler({ actor, store, commit, signet }, input) {
    assertNotSupport(actor, 'invite people');
    const existingUser = (await store.users.byEmail(input.email))?.value;
    if (existingUser?.kind === 'ciUser' || input.email.endsWith('.ci.signet.invalid')) {
      throw invalid('email', 'belongs to a CI user, who cannot be invited');
    }
    if (existingUser && (await store.members.get(actor.orgId, existingUser.id))) {
      throw conflict(`${input.email} is already a member of this organization`);
    }
    const pending = (await store.invitations.list(actor.orgId)).find((invitation) => invitation.email === input.email);
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
      ...combinePlans(store.invitations.create(invitation), { expect: [], ops: outreach.ops, events: [] }),
    });
    await outreach.afterCommit();
    // The link carries the secret token: it is shown to the inviter once, never stored in the clear or logged.
    return { invitation: toInvitation(invitation), inviteLink: link, mailed };
  },
});

/** Loads a member another member may manage (rules.ts: never oneself, never the owner). */
async function manageableMember(context: CommandContext, userId: string, what: string) {
  const { actor, store } = context;
  if (userId === actor.userId) throw forbidden(`Nobody can ${what} themselves`);
  const stored = await store.members.get(actor.orgId, userId);
  if (!stored) throw notFound(`Member ${userId}`);
  if (memberChangeRefusal(stored.value, actor.userId) === 'owner') {
    throw forbidden(`The owner cannot be ${what === 'remove' ? 'removed' : 'given another role'}; ownership moves only through an operator`);
  }
  return stored;
}

export const changeMemberRole = defineCommand({
  name: 'member.changeRole',
  async handler(context, input) {
    const { actor, store, commit, signet } = context;
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
      ...combinePlans(store.members.update(stored, updated), { expect: [], ops: outreach.ops, events: outreach.events }),
      // Demotion or promotion applies to the member's live sockets, in order with the events.
      access: [{ orgId: actor.orgId, userId: member.userId }],
    });
    await outreach.afterCommit();
    return updated;
  },
});

/**
 * The removal of a member (a person or a CI user, whose account goes with it: store/members.ts) with
 * the API keys they own in the organization and every key created with one of those (which may
 * belong to others, CI users), as one change: the sockets of those descendants are re-checked
 * besides the member's own.
 */
export async function memberRemoval(context: CommandContext, stored: Loaded<MemberRecord>): Promise<{ change: Change; revokedKeys: number }> {
  const { actor, store } = context;
  const member = stored.value;
  const ownKeys = (await store.apiKeys.list(actor.orgId)).filter(({ record }) => record.ownerId === member.userId).map(({ record }) => record);
  const revocation = await keyRevocation(context, ownKeys);
  const access: AccessScope[] = [{ orgId: actor.orgId, userId: member.userId }];
  if (revocation.descendants.length) access.push({ keyIds: revocation.descendants.map((key) => key.id) });
  return {
    change: {
      target: { type: member.kind === 'ciUser' ? 'ciUser' : 'member', id: member.userId, name: member.name },
      changes: { role: { before: member.role, after: null } },
      ...combinePlans(store.members.remove(stored), revocation.plan),
      alsoAudited: revocation.alsoAudited,
      access,
    },
    revokedKeys: ownKeys.length,
  };
}

export const removeMember = defineCommand({
  name: 'member.remove',
  async handler(context, input) {
    const stored = await manageableMember(context, input.userId, 'remove');
    const removal = await memberRemoval(context, stored);
    await context.commit(removal.change);
    return { removed: stored.value.userId, revokedApiKeys: removal.revokedKeys };
  },
});

export const listInvitations = defineCommand({
  name: 'invite.list',
  async handler({ actor, store }) {
    const invitations = await store.invitations.list(actor.orgId);
    return invitations.map(toInvitation).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  },
});

export const revokeInvitation = defineCommand({
  name: 'invite.revoke',
  async handler({ actor, store, commit }, input) {
    const stored = await store.invitations.get(actor.orgId, input.inviteId);
    if (!stored) throw notFound(`Invitation ${input.inviteId}`);
    const invitation = stored.value;
    await commit({
      target: { type: 'invitation', id: invitation.id, name: invitation.email },
      changes: { status: { before: 'pending', after: 'revoked' } },
      ...store.invitations.remove(stored),
    });
    return { revoked: invitation.id };
  },
});
