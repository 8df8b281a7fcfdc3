// Organizations and their first people outside the command path: the one-time setup link of a new
// installation, the operator's `signet org create`, `signet demo`, and members added with a password
// by an operator. Each writes its audit entry in the same commit as the change.
import { z } from 'zod';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import { Email, Name, Password, Slug } from '../../src/lib/shared/commands.js';
import type { Signet } from '../signet.js';
import type { MemberRecord, OrganizationRecord, UserRecord } from '../store/records.js';
import { toOrganization } from '../store/records.js';
import { PreconditionFailed, type WriteOp } from '../store/commit.js';
import { INSTANCE_ORG_ID } from '../store/keys.js';
import { changeEvent } from '../store/events.js';
import { auditDraft, type AuditSource } from '../audit/entries.js';
import { CommandFailure, conflict, parseOr400 } from '../errors.js';
import { hashPassword, randomId, randomToken, tokenHash } from './secrets.js';
import { invitationLink, invitationWrites, newInvitation } from './invitations.js';
import { membershipWrites, userWrites } from './accountWrites.js';

export const NewOrganizationInput = z.strictObject({
  orgSlug: Slug,
  orgName: Name,
  ownerEmail: Email,
  ownerName: Name,
  ownerPassword: Password.optional(),
  openSource: z.boolean().default(false),
});
export type NewOrganizationInput = z.input<typeof NewOrganizationInput>;

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
    ...(existingUser ? [] : userWrites(signet.keys, user)),
    ...membershipWrites(signet.keys, owner),
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
    ops: [...(existing ? [] : userWrites(signet.keys, user)), ...membershipWrites(signet.keys, member)],
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
