// Signing in and out: a session is created for a person who proved who they are, and ended by
// signing out (its sockets on every node are cut off in the commit feed's order). Both are audited
// in every organization the account belongs to.
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { StoredRole } from '../../src/lib/shared/permissions.js';
import type { Signet } from '../signet.js';
import type { SessionRecord, UserRecord } from '../store/records.js';
import { INSTANCE_ORG_ID } from '../store/keys.js';
import { type Audited, type Change } from '../store/acting.js';
import type { AuditSource } from '../audit/entries.js';
import { CommandFailure } from '../errors.js';
import { dummyPasswordHash, randomToken, tokenHash, verifyPassword } from './secrets.js';

export const SESSION_COOKIE = 'signet_session';

export interface SignedIn {
  sessionId: string;
  user: UserRecord;
  orgs: Array<{ slug: string; name: string; role: StoredRole }>;
}

/**
 * Commits `change` audited once in each of the account's organizations (an account in none, or no
 * account: in the instance log), as `actor`.
 */
async function commitInEveryOrg(signet: Signet, orgIds: string[], actor: AuditActor, source: AuditSource, change: Change & { action: string }) {
  const [first, ...others] = orgIds.length ? orgIds : [INSTANCE_ORG_ID];
  const entry: Audited = { action: change.action, target: change.target, changes: change.changes, outcome: change.outcome, reason: change.reason };
  const acting = signet.acting({ orgId: first!, actor, source });
  return acting.commit({ ...change, alsoAudited: others.map((orgId) => ({ ...entry, orgId })) });
}

/**
 * Checks email and password. Success creates a session; both outcomes are audited in every
 * organization the account belongs to (an unknown email: in the instance log).
 */
export async function signIn(signet: Signet, email: string, password: string, source: AuditSource): Promise<SignedIn> {
  const { users } = signet.store;
  const user = (await users.byEmail(email))?.value;
  const valid = user?.passwordHash
    ? await verifyPassword(user.passwordHash, password)
    : (await verifyPassword(await dummyPasswordHash(), password), false);
  if (!user || !valid || user.kind === 'ciUser') {
    const orgIds = user ? await users.orgIds(user.id) : [];
    const actor: AuditActor = user ? { type: user.kind === 'ciUser' ? 'ciUser' : 'user', id: user.id, name: user.name } : { type: 'anonymous', id: 'anonymous', name: email.slice(0, 254) };
    await commitInEveryOrg(signet, orgIds, actor, source, {
      action: 'auth.signIn',
      target: { type: 'user', id: user?.id ?? 'unknown', name: user?.email ?? email.slice(0, 254) },
      outcome: 'failed',
      reason: !user ? 'no such account' : user.kind === 'ciUser' ? 'CI users sign in with API tokens only' : 'wrong password',
    });
    throw new CommandFailure('UNAUTHENTICATED', 'The email or password is wrong');
  }
  const session = await createSessionFor(signet, user, source);
  return { ...session, user };
}

/** Creates a session for a user who proved who they are; audited as a sign-in in each of their organizations. */
export async function createSessionFor(signet: Signet, user: UserRecord, source: AuditSource) {
  const { users, sessions, organizations, members } = signet.store;
  const orgIds = await users.orgIds(user.id);
  const sessionId = randomToken();
  const ttlMs = signet.config.SIGNET_SESSION_TTL_HOURS * 3600_000;
  const session: SessionRecord = {
    userId: user.id,
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + ttlMs).toISOString(),
  };
  await commitInEveryOrg(signet, orgIds, { type: 'user', id: user.id, name: user.name }, source, {
    action: 'auth.signIn',
    target: { type: 'user', id: user.id, name: user.email },
    outcome: 'ok',
    ...sessions.create(tokenHash(sessionId), session, ttlMs),
  });
  const orgs = (await Promise.all(orgIds.map(async (orgId) => {
    const [org, member] = await Promise.all([organizations.get(orgId), members.get(orgId, user.id)]);
    return org && member && !org.value.deletedAt ? { slug: org.value.slug, name: org.value.name, role: member.value.role } : null;
  }))).filter((org): org is NonNullable<typeof org> => org !== null);
  return { sessionId, orgs };
}

/** Ends a session: its sockets on every node are disconnected before anything committed after it reaches them. */
export async function signOut(signet: Signet, sessionId: string, source: AuditSource): Promise<void> {
  const { users, sessions } = signet.store;
  const sessionHash = tokenHash(sessionId);
  const stored = await sessions.get(sessionHash);
  if (!stored) return;
  const user = (await users.get(stored.value.userId))?.value;
  const orgIds = user ? await users.orgIds(user.id) : [];
  await commitInEveryOrg(signet, orgIds, { type: 'user', id: stored.value.userId, name: user?.name ?? 'unknown' }, source, {
    action: 'auth.signOut',
    target: { type: 'user', id: stored.value.userId, name: user?.email ?? 'unknown' },
    ...sessions.remove(sessionHash),
    access: [{ sessionHash }],
  });
}
