// Invitations: a one-time link (its token stored only as a hash) valid for 14 days, and accepting
// one (outside the command path: the person invited has no session yet).
import { z } from 'zod';
import type { Role } from '../../src/lib/shared/permissions.js';
import { Name, Password } from '../../src/lib/shared/commands.js';
import type { Signet } from '../signet.js';
import type { RedisKeys } from '../store/keys.js';
import type { InvitationRecord, MemberRecord, UserRecord } from '../store/records.js';
import type { PlannedEvent, WriteOp } from '../store/commit.js';
import { PreconditionFailed } from '../store/commit.js';
import { changeEvent } from '../store/events.js';
import { auditDraft, type AuditSource } from '../audit/entries.js';
import type { MailMessage } from '../outreach/mail.js';
import { CommandFailure, invalidInput, parseOr400 } from '../errors.js';
import { hashPassword, randomId, randomToken, tokenHash, verifyPassword } from './secrets.js';
import { membershipWrites, userWrites } from './accountWrites.js';

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
  const { keys, repos } = signet;
  const invitationId = await repos.invitationIdByToken(tokenHash(input.token));
  const stored = invitationId ? await repos.invitation(invitationId) : null;
  if (!stored || Date.parse(stored.value.expiresAt) <= Date.now()) {
    throw new CommandFailure('NOT_FOUND', 'This invitation link is not valid: it expired, was revoked or was used already');
  }
  const invitation = stored.value;
  const org = (await repos.org(invitation.orgId))?.value;
  if (!org || org.deletedAt) throw new CommandFailure('NOT_FOUND', 'The organization of this invitation no longer exists');

  const existingId = await repos.userIdByEmail(invitation.email);
  const existing = existingId ? (await repos.user(existingId))?.value : undefined;
  const now = new Date().toISOString();
  let user: UserRecord;
  const ops: WriteOp[] = [];
  if (existing?.kind === 'ciUser') throw new CommandFailure('FORBIDDEN', 'CI users cannot accept invitations');
  if (existing?.passwordHash) {
    if (!(await verifyPassword(existing.passwordHash, input.password))) {
      await signet.apply({
        audits: [
          auditDraft({
            orgId: org.id,
            actor: { type: 'anonymous', id: 'anonymous', name: invitation.email },
            action: 'auth.signIn',
            target: { type: 'user', id: existing.id, name: existing.email },
            outcome: 'failed',
            reason: 'wrong password when accepting an invitation',
            source,
          }),
        ],
      });
      throw new CommandFailure('UNAUTHENTICATED', `An account for ${invitation.email} exists: enter its current password to join`);
    }
    user = existing;
  } else {
    // An account without a password is set up only through the owner invitation made with it;
    // any other invitation would let its sender choose the password of someone else's account.
    if (existing && !(invitation.role === 'owner' && org.ownerId === existing.id)) {
      throw new CommandFailure('FORBIDDEN', `The account for ${invitation.email} is not set up yet: accept the invitation it was created with first`);
    }
    if (!input.name && !existing) throw invalidInput(new z.ZodError([{ code: 'custom', path: ['name'], message: 'Required', input: undefined }]));
    user = {
      ...(existing ?? { id: randomId(), email: invitation.email, kind: 'user', operator: false, createdAt: now, version: 0 }),
      name: input.name ?? existing!.name,
      passwordHash: await hashPassword(input.password),
      version: (existing?.version ?? 0) + 1,
    } as UserRecord;
    ops.push(...userWrites(signet.keys, user));
  }
  const alreadyMember = await repos.member(org.id, user.id);
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
  if (!alreadyMember) ops.push(...membershipWrites(signet.keys, member));
  ops.push(
    ['del', keys.invite(invitation.id)],
    ['del', keys.inviteToken(invitation.tokenHash)],
    ['srem', keys.orgInvites(org.id), invitation.id],
  );
  const events: PlannedEvent[] = [changeEvent(org.id, 'invitation', 'deleted', invitation.id, undefined, ['p:team:manage'])];
  if (!alreadyMember) events.push(changeEvent(org.id, 'member', 'created', user.id, member, ['p:team:read']));
  try {
    await signet.apply({
      expect: [{ key: keys.invite(invitation.id), equals: stored.raw }],
      ops,
      events,
      audits: [
        auditDraft({
          orgId: org.id,
          actor: { type: 'user', id: user.id, name: user.name },
          action: 'invite.accept',
          target: { type: 'member', id: user.id, name: user.name },
          changes: { role: { before: null, after: invitation.role }, email: { before: null, after: user.email } },
          source,
        }),
      ],
    });
  } catch (error) {
    if (error instanceof PreconditionFailed) throw new CommandFailure('NOT_FOUND', 'This invitation was used or revoked meanwhile');
    throw error;
  }
  return user;
}
