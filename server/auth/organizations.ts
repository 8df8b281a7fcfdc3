// Organizations and their first people outside the command path: the one-time setup link of a new
// installation, the operator's `signet org create`, `signet demo`, and members added with a password
// by an operator. Each writes its audit entry in the same commit as the change.
import { z } from 'zod';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import { Email, Name, Password, Slug } from '../../src/lib/shared/commands.js';
import type { Signet } from '../signet.js';
import type { MemberRecord, OrganizationRecord, UserRecord } from '../store/records.js';
import { toOrganization } from '../store/records.js';
import { INSTANCE_ORG_ID } from '../store/keys.js';
import { combinePlans, type WritePlan } from '../store/plan.js';
import type { AuditSource } from '../audit/entries.js';
import { CommandFailure, conflict, parseOr400 } from '../errors.js';
import { hashPassword, randomId, randomToken, tokenHash } from './secrets.js';
import { invitationLink, newInvitation } from './invitations.js';

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
  const { organizations, users, members, invitations } = signet.store;
  if (await organizations.idBySlug(input.orgSlug)) throw conflict(`An organization with slug "${input.orgSlug}" exists already`);
  const now = new Date().toISOString();
  const existingUser = (await users.byEmail(input.ownerEmail))?.value;
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
  const plans: WritePlan[] = [organizations.create(org), ...(existingUser ? [] : [users.create(user)]), members.create(owner)];
  // A new owner without a password gets an invitation (role owner, only an operator can make one).
  let ownerSetupLink: string | null = null;
  if (!user.passwordHash) {
    const { invitation, token } = newInvitation(org.id, user.email, 'owner', 'operator');
    plans.push(invitations.create(invitation));
    ownerSetupLink = invitationLink(signet.config.publicUrl, token);
  }
  const target = { type: 'organization', id: org.id, name: org.name };
  const changes = {
    slug: { before: null, after: org.slug },
    name: { before: null, after: org.name },
    owner: { before: null, after: user.email },
    openSource: { before: null, after: org.openSource },
  };
  // Audited in the new organization's log and in the instance's.
  const acting = signet.acting({ orgId: org.id, actor, source, action: 'org.create' });
  try {
    await acting.commit({ target, changes, ...combinePlans(...plans), alsoAudited: [{ target, changes, orgId: INSTANCE_ORG_ID }] });
  } catch (error) {
    if (error instanceof CommandFailure && error.concurrentChange) throw conflict('The organization slug or owner email was taken meanwhile; try again');
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
  const { users, members } = signet.store;
  const existing = (await users.byEmail(person.email))?.value;
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
  const stored = await members.get(orgId, user.id);
  if (stored) return stored.value;
  const member: MemberRecord = { userId: user.id, orgId, kind: 'user', email: user.email, name: user.name, role: person.role, joinedAt: now, version: 1 };
  await signet.acting({ orgId, actor, source }).commit({
    action: 'member.add',
    target: { type: 'member', id: user.id, name: user.name },
    changes: { role: { before: null, after: person.role }, email: { before: null, after: user.email } },
    ...combinePlans(...(existing ? [] : [users.create(user)]), members.create(member)),
  });
  return member;
}

/** Issues the one-time setup token when the instance has no organization yet. */
export async function ensureSetupToken(signet: Signet): Promise<string | null> {
  const { organizations } = signet.store;
  if (await organizations.any()) return null;
  const token = randomToken();
  // With several nodes starting at once, the first token wins; the others print nothing.
  return (await organizations.setupToken.issue(tokenHash(token))) ? token : null;
}

export const SetupInput = NewOrganizationInput.extend({ token: z.string().min(10).max(200), ownerPassword: Password });

/** Uses the setup token once to create the first organization and its owner. */
export async function completeSetup(signet: Signet, rawInput: unknown, source: AuditSource) {
  const input = parseOr400(SetupInput, rawInput);
  const { setupToken } = signet.store.organizations;
  const stored = await setupToken.current();
  if (!stored || stored !== tokenHash(input.token)) {
    throw new CommandFailure('NOT_FOUND', 'This setup link is not valid or was used already');
  }
  // Used up first: the link is single-use even if two requests race.
  if (!(await setupToken.consume())) {
    throw new CommandFailure('NOT_FOUND', 'This setup link was used already');
  }
  const { token: _token, ...organization } = input;
  const actor: AuditActor = { type: 'user', id: 'setup', name: input.ownerName };
  try {
    return await createOrganization(signet, organization, actor, source);
  } catch (error) {
    // Nothing was created (say, the data store failed): the link works again.
    await setupToken.restore(stored).catch(() => {});
    throw error;
  }
}
