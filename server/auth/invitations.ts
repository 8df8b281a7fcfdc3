// Invitations: a one-time link (its token stored only as a hash) valid for 14 days.
import type { Role } from '../../src/lib/shared/permissions.js';
import type { RedisKeys } from '../store/keys.js';
import type { InvitationRecord } from '../store/records.js';
import type { WriteOp } from '../store/commit.js';
import type { MailMessage } from '../outreach/mail.js';
import { randomId, randomToken, tokenHash } from './secrets.js';

export const INVITATION_LIFETIME_MS = 14 * 24 * 60 * 60 * 1000;

/** A new invitation and its token; the token goes into the link once and is never stored. */
export function newInvitation(orgId: string, email: string, role: Role, invitedBy: string): { invitation: InvitationRecord; token: string } {
  const token = randomToken();
  const now = Date.now();
  return {
    token,
    invitation: {
      id: randomId(),
      orgId,
      email,
      role,
      invitedBy,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + INVITATION_LIFETIME_MS).toISOString(),
      tokenHash: tokenHash(token),
    },
  };
}

export function invitationWrites(keys: RedisKeys, invitation: InvitationRecord): WriteOp[] {
  return [
    ['set', keys.invite(invitation.id), JSON.stringify(invitation), INVITATION_LIFETIME_MS],
    ['set', keys.inviteToken(invitation.tokenHash), invitation.id, INVITATION_LIFETIME_MS],
    ['sadd', keys.orgInvites(invitation.orgId), invitation.id],
  ];
}

export function invitationLink(publicUrl: string, token: string): string {
  return `${publicUrl}/accept-invite?token=${token}`;
}

/** The mail that carries an invitation link to the person invited (and to nobody else). */
export function invitationMail(
  publicUrl: string,
  invitation: InvitationRecord,
  link: string,
  names: { org: string; inviter: string },
): MailMessage {
  const expires = new Date(invitation.expiresAt).toUTCString();
  return {
    subject: `${names.inviter} invited you to ${names.org} on Signet`,
    heading: `Join ${names.org} on Signet`,
    text: `${names.inviter} invited you to ${names.org} as ${invitation.role === 'admin' ? 'an' : 'a'} ${invitation.role}. The link below works once and until ${expires}; it is meant for you alone.`,
    action: { label: 'Accept the invitation', url: link },
    footer: [
      `Signet (${publicUrl}) sent this to ${invitation.email} because ${names.inviter} invited that address.`,
      'Not expecting it? Ignore this mail: nothing happens unless the link is opened.',
    ],
  };
}
