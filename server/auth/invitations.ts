// Invitations: a one-time link (its token stored only as a hash) valid for 14 days, and accepting
// one (outside the command path: the person invited has no session yet).
import { z } from 'zod';
import type { Role } from '../../src/lib/shared/permissions.js';
import { Name, Password } from '../../src/lib/shared/commands.js';
import type { Signet } from '../signet.js';
import type { InvitationRecord, MemberRecord, UserRecord } from '../store/records.js';
import { INVITATION_LIFETIME_MS } from '../store/invitations.js';
import { combinePlans, type WritePlan } from '../store/plan.js';
import type { AuditSource } from '../audit/entries.js';
import type { MailMessage } from '../outreach/mail.js';
import { CommandFailure, invalidInput, parseOr400 } from '../errors.js';
import { hashPassword, randomId, randomToken, tokenHash, verifyPassword } from './secrets.js';

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

export const AcceptInvitationInput = z.strictObject({
  token: z.string().min(10).max(200),
  name: Name.optional(),
  password: Password,
});

/**
 * Accepts an invitation: a new account gets the name and password given; an existing account (one
 * per email) must prove itself with its current password. Returns the user, to sign them in.
 */
export async function acceptInvitation(signet: Signet, rawInput: unknown, source: AuditSource): Promise<UserRecord> {
  const input = parseOr400(AcceptInvitationInput, rawInput);
  const { invitations, organizations, users, members } = signet.store;
  const stored = await invitations.byToken(tokenHash(input.token));
  if (!stored || Date.parse(stored.value.expiresAt) <= Date.now()) {
    throw new CommandFailure('NOT_FOUND', 'This invitation link is not valid: it expired, was revoked or was used already');
  }
  const invitation = stored.value;
  const org = (await organizations.get(invitation.orgId))?.value;
  if (!org || org.deletedAt) throw new CommandFailure('NOT_FOUND', 'The organization of this invitation no longer exists');

  const existing = await users.byEmail(invitation.email);
  const now = new Date().toISOString();
  let user: UserRecord;
  const plans: WritePlan[] = [];
  if (existing?.value.kind === 'ciUser') throw new CommandFailure('FORBIDDEN', 'CI users cannot accept invitations');
  if (existing?.value.passwordHash) {
    if (!(await verifyPassword(existing.value.passwordHash, input.password))) {
      await signet.acting({ orgId: org.id, actor: { type: 'anonymous', id: 'anonymous', name: invitation.email }, source }).commit({
        action: 'auth.signIn',
        target: { type: 'user', id: existing.value.id, name: existing.value.email },
        outcome: 'failed',
        reason: 'wrong password when accepting an invitation',
      });
      throw new CommandFailure('UNAUTHENTICATED', `An account for ${invitation.email} exists: enter its current password to join`);
    }
    user = existing.value;
  } else {
    // An account without a password is set up only through the owner invitation made with it;
    // any other invitation would let its sender choose the password of someone else's account.
    if (existing && !(invitation.role === 'owner' && org.ownerId === existing.value.id)) {
      throw new CommandFailure('FORBIDDEN', `The account for ${invitation.email} is not set up yet: accept the invitation it was created with first`);
    }
    if (!input.name && !existing) throw invalidInput(new z.ZodError([{ code: 'custom', path: ['name'], message: 'Required', input: undefined }]));
    user = {
      ...(existing?.value ?? { id: randomId(), email: invitation.email, kind: 'user', operator: false, createdAt: now, version: 0 }),
      name: input.name ?? existing!.value.name,
      passwordHash: await hashPassword(input.password),
      version: (existing?.value.version ?? 0) + 1,
    } as UserRecord;
    plans.push(existing ? users.update(existing, user) : users.create(user));
  }
  if (!(await members.get(org.id, user.id))) {
    const member: MemberRecord = {
      userId: user.id,
      orgId: org.id,
      kind: 'user',
      email: user.email,
      name: user.name,
      role: invitation.role,
      joinedAt: now,
      version: 1,
    };
    plans.push(members.create(member));
  }
  const acting = signet.acting({ orgId: org.id, actor: { type: 'user', id: user.id, name: user.name }, source });
  try {
    await acting.commit({
      action: 'invite.accept',
      target: { type: 'member', id: user.id, name: user.name },
      changes: { role: { before: null, after: invitation.role }, email: { before: null, after: user.email } },
      ...combinePlans(invitations.remove(stored), ...plans),
    });
  } catch (error) {
    if (error instanceof CommandFailure && error.concurrentChange) throw new CommandFailure('NOT_FOUND', 'This invitation was used or revoked meanwhile');
    throw error;
  }
  return user;
}
