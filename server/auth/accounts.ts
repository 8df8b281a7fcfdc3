// Accounts outside the command path: creating organizations (setup link, CLI, demo), accepting
// invitations, signing in and out. Each writes its audit entry in the same commit as the change.
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { StoredRole } from '../../src/lib/shared/permissions.js';
import { Email, Name, Password, Slug } from '../../src/lib/shared/commands.js';
import type { Signet } from '../signet.js';
import type { MemberRecord, OrganizationRecord, SessionRecord, UserRecord } from '../store/records.js';
import { toOrganization } from '../store/records.js';
import { PreconditionFailed, type PlannedEvent, type WriteOp } from '../store/commit.js';
import { auditDraft, type AuditSource } from '../audit/entries.js';
import { CommandFailure, conflict, invalidInput } from '../commands/errors.js';
import { INSTANCE_ORG_ID } from '../store/keys.js';
import { changeEvent } from '../commands/define.js';
import { dummyPasswordHash, hashPassword, randomId, randomToken, tokenHash, verifyPassword } from './secrets.js';
import { invitationLink, invitationWrites, newInvitation } from './invitations.js';
import { z } from 'zod';

export const SESSION_COOKIE = 'signet_session';

export const NewOrganizationInput = z.strictObject({
  orgSlug: Slug,
  orgName: Name,
  ownerEmail: Email,
  ownerName: Name,
  ownerPassword: Password.optional(),
  openSource: z.boolean().default(false),
});
export type NewOrganizationInput = z.input<typeof NewOrganizationInput>;

export function parseOr400<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidInput(parsed.error);
  return parsed.data;
}

function userWrites(signet: Signet, user: UserRecord): WriteOp[] {
  return [
    ['set', signet.keys.user(user.id), JSON.stringify(user)],
    ['hset', signet.keys.usersByEmail, user.email, user.id],
  ];
}

function membershipWrites(signet: Signet, member: MemberRecord): WriteOp[] {
  return [
    ['set', signet.keys.member(member.orgId, member.userId), JSON.stringify(member)],
    ['sadd', signet.keys.orgMembers(member.orgId), member.userId],
    ['sadd', signet.keys.userOrgs(member.userId), member.orgId],
  ];
}

/**
 * Creates an organization with its owner (the only way an owner comes to be). An existing account
 * with the owner's email becomes the owner; otherwise a new one is created, with the given password
 * or, without one, an owner invitation link to set it.
 */
export async function createOrganization(
  signet: Signet,
  rawInput: NewOrganizationInput,
  actor: AuditActor,
  source: AuditSource,
): Promise<{ org: ReturnType<typeof toOrganization>; owner: MemberRecord; ownerSetupLink: string | null }> {
  const input = parseOr400(NewOrganizationInput, rawInput);
  const { keys } = signet;
  if (await signet.repos.orgIdBySlug(input.orgSlug)) throw conflict(`An organization with slug "${input.orgSlug}" exists already`);
  const now = new Date().toISOString();
  const existingUserId = await signet.repos.userIdByEmail(input.ownerEmail);
  const existingUser = existingUserId ? (await signet.repos.user(existingUserId))?.value : undefined;
  if (existingUser?.kind === 'ciUser') throw conflict('A CI user cannot own an organization');
  const user: UserRecord = existingUser ?? {
    id: randomId(),
    email: input.ownerEmail,
    name: input.ownerName,
    kind: 'user',
    passwordHash: input.ownerPassword ? await hashPassword(input.ownerPassword) : null,
    operator: false,
    createdAt: now,
    version: 1,
  };
  const org: OrganizationRecord = {
    id: randomId(),
    slug: input.orgSlug,
    name: input.orgName,
    openSource: input.openSource,
    supportAuthorized: false,
    ownerId: user.id,
    createdAt: now,
    version: 1,
  };
  const owner: MemberRecord = {
    userId: user.id,
    orgId: org.id,
    kind: 'user',
    email: user.email,
    name: user.name,
    role: 'owner',
    joinedAt: now,
    version: 1,
  };
  const ops: WriteOp[] = [
    ['set', keys.org(org.id), JSON.stringify(org)],
    ['hset', keys.orgSlugs, org.slug, org.id],
    ['sadd', keys.orgIds, org.id],
    ...(existingUser ? [] : userWrites(signet, user)),
    ...membershipWrites(signet, owner),
  ];
  // A new owner without a password gets an invitation (role owner, only an operator can make one).
  let ownerSetupLink: string | null = null;
  if (!user.passwordHash) {
    const { invitation, token } = newInvitation(org.id, user.email, 'owner', 'operator');
    ops.push(...invitationWrites(signet.keys, invitation));
    ownerSetupLink = invitationLink(signet.config.publicUrl, token);
  }
  const target = { type: 'organization', id: org.id, name: org.name };
  const changes = {
    slug: { before: null, after: org.slug },
    name: { before: null, after: org.name },
    owner: { before: null, after: user.email },
    openSource: { before: null, after: org.openSource },
  };
  try {
    await signet.apply({
      expect: [
        { key: keys.orgSlugs, field: org.slug, equals: null },
        ...(existingUser ? [] : [{ key: keys.usersByEmail, field: user.email, equals: null }]),
      ],
      ops,
      audits: [
        auditDraft({ orgId: org.id, actor, action: 'org.create', target, changes, source }),
        auditDraft({ orgId: INSTANCE_ORG_ID, actor, action: 'org.create', target, changes, source }),
      ],
    });
  } catch (error) {
    if (error instanceof PreconditionFailed) throw conflict('The organization slug or owner email was taken meanwhile; try again');
    throw error;
  }
  return { org: toOrganization(org), owner, ownerSetupLink };
}

/**
 * Adds a person with a password straight into an organization (operators and `signet demo`, not the
 * console, which invites). Reuses an existing account with that email.
 */
export async function addMemberDirectly(
  signet: Signet,
  orgId: string,
  person: { email: string; name: string; role: 'admin' | 'member' | 'viewer'; password: string },
  actor: AuditActor,
  source: AuditSource,
): Promise<MemberRecord> {
  const existingId = await signet.repos.userIdByEmail(person.email);
  const existing = existingId ? (await signet.repos.user(existingId))?.value : undefined;
  const now = new Date().toISOString();
  const user: UserRecord = existing ?? {
    id: randomId(),
    email: person.email.toLowerCase(),
    name: person.name,
    kind: 'user',
    passwordHash: await hashPassword(person.password),
    operator: false,
    createdAt: now,
    version: 1,
  };
  const stored = await signet.repos.member(orgId, user.id);
  if (stored) return stored.value;
  const member: MemberRecord = { userId: user.id, orgId, kind: 'user', email: user.email, name: user.name, role: person.role, joinedAt: now, version: 1 };
  await signet.apply({
    expect: [{ key: signet.keys.member(orgId, user.id), equals: null }],
    ops: [...(existing ? [] : userWrites(signet, user)), ...membershipWrites(signet, member)],
    events: [changeEvent(orgId, 'member', 'created', user.id, member, ['p:team:read'])],
    audits: [
      auditDraft({
        orgId,
        actor,
        action: 'member.add',
        target: { type: 'member', id: user.id, name: user.name },
        changes: { role: { before: null, after: person.role }, email: { before: null, after: user.email } },
        source,
      }),
    ],
  });
  return member;
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
    ops.push(...userWrites(signet, user));
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
  if (!alreadyMember) ops.push(...membershipWrites(signet, member));
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

export interface SignedIn {
  sessionId: string;
  user: UserRecord;
  orgs: Array<{ slug: string; name: string; role: StoredRole }>;
}

/**
 * Checks email and password. Success creates a session; both outcomes are audited in every
 * organization the account belongs to (an unknown email: in the instance log).
 */
export async function signIn(signet: Signet, email: string, password: string, source: AuditSource): Promise<SignedIn> {
  const { repos } = signet;
  const userId = await repos.userIdByEmail(email.toLowerCase());
  const user = userId ? (await repos.user(userId))?.value : undefined;
  const valid = user?.passwordHash
    ? await verifyPassword(user.passwordHash, password)
    : (await verifyPassword(await dummyPasswordHash(), password), false);
  const orgIds = user ? await repos.userOrgIds(user.id) : [];
  const actor: AuditActor = user ? { type: user.kind === 'ciUser' ? 'ciUser' : 'user', id: user.id, name: user.name } : { type: 'anonymous', id: 'anonymous', name: email.slice(0, 254) };
  const auditOrgs = orgIds.length ? orgIds : [INSTANCE_ORG_ID];
  const failedAudits = (reason: string) =>
    auditOrgs.map((orgId) =>
      auditDraft({
        orgId,
        actor,
        action: 'auth.signIn',
        target: { type: 'user', id: user?.id ?? 'unknown', name: user?.email ?? email.slice(0, 254) },
        outcome: 'failed',
        reason,
        source,
      }),
    );
  if (!user || !valid || user.kind === 'ciUser') {
    await signet.apply({ audits: failedAudits(!user ? 'no such account' : user.kind === 'ciUser' ? 'CI users sign in with API tokens only' : 'wrong password') });
    throw new CommandFailure('UNAUTHENTICATED', 'The email or password is wrong');
  }
  const session = await createSessionFor(signet, user, source);
  return { ...session, user };
}

/** Creates a session for a user who proved who they are; audited as a sign-in in each of their organizations. */
export async function createSessionFor(signet: Signet, user: UserRecord, source: AuditSource) {
  const { keys, repos } = signet;
  const orgIds = await repos.userOrgIds(user.id);
  const sessionId = randomToken();
  const sessionHash = tokenHash(sessionId);
  const ttlMs = signet.config.SIGNET_SESSION_TTL_HOURS * 3600_000;
  const session: SessionRecord = {
    userId: user.id,
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + ttlMs).toISOString(),
  };
  await signet.apply({
    ops: [
      ['set', keys.session(sessionHash), JSON.stringify(session), ttlMs],
    ],
    audits: (orgIds.length ? orgIds : [INSTANCE_ORG_ID]).map((orgId) =>
      auditDraft({
        orgId,
        actor: { type: 'user', id: user.id, name: user.name },
        action: 'auth.signIn',
        target: { type: 'user', id: user.id, name: user.email },
        outcome: 'ok',
        source,
      }),
    ),
  });
  const orgs = (await Promise.all(orgIds.map(async (orgId) => {
    const [org, member] = await Promise.all([repos.org(orgId), repos.member(orgId, user.id)]);
    return org && member && !org.value.deletedAt ? { slug: org.value.slug, name: org.value.name, role: member.value.role } : null;
  }))).filter((org): org is NonNullable<typeof org> => org !== null);
  return { sessionId, orgs };
}

/** Ends a session: its sockets on every node are disconnected before anything committed after it reaches them. */
export async function signOut(signet: Signet, sessionId: string, source: AuditSource): Promise<void> {
  const sessionHash = tokenHash(sessionId);
  const stored = await signet.repos.session(sessionHash);
  if (!stored) return;
  const user = (await signet.repos.user(stored.value.userId))?.value;
  const orgIds = user ? await signet.repos.userOrgIds(user.id) : [];
  await signet.apply({
    ops: [
      ['del', signet.keys.session(sessionHash)],
    ],
    audits: (orgIds.length ? orgIds : [INSTANCE_ORG_ID]).map((orgId) =>
      auditDraft({
        orgId,
        actor: { type: 'user', id: stored.value.userId, name: user?.name ?? 'unknown' },
        action: 'auth.signOut',
        target: { type: 'user', id: stored.value.userId, name: user?.email ?? 'unknown' },
        source,
      }),
    ),
    access: { scopes: [{ sessionHash }] },
  });
}

/** Issues the one-time setup token when the instance has no organization yet. */
export async function ensureSetupToken(signet: Signet): Promise<string | null> {
  if ((await signet.redis.scard(signet.keys.orgIds)) > 0) return null;
  const token = randomToken();
  // NX: with several nodes starting at once, the first token wins; the others print nothing.
  const created = await signet.redis.set(signet.keys.setupToken, tokenHash(token), 'NX');
  return created ? token : null;
}

export const SetupInput = NewOrganizationInput.extend({ token: z.string().min(10).max(200), ownerPassword: Password });

/** Uses the setup token once to create the first organization and its owner. */
export async function completeSetup(signet: Signet, rawInput: unknown, source: AuditSource) {
  const input = parseOr400(SetupInput, rawInput);
  const stored = await signet.redis.get(signet.keys.setupToken);
  if (!stored || stored !== tokenHash(input.token)) {
    throw new CommandFailure('NOT_FOUND', 'This setup link is not valid or was used already');
  }
  // Delete first: the link is single-use even if two requests race.
  if ((await signet.redis.del(signet.keys.setupToken)) !== 1) {
    throw new CommandFailure('NOT_FOUND', 'This setup link was used already');
  }
  const { token: _token, ...organization } = input;
  const actor: AuditActor = { type: 'user', id: 'setup', name: input.ownerName };
  try {
    return await createOrganization(signet, organization, actor, source);
  } catch (error) {
    // Nothing was created (say, the data store failed): the link works again.
    await signet.redis.set(signet.keys.setupToken, stored, 'NX').catch(() => {});
    throw error;
  }
}
