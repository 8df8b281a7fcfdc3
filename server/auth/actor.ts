// Who is acting. A principal is what a socket or request authenticated as; the actor is what that
// principal may do *now*, loaded fresh from Redis for every command so a role change, removal or
// revocation applies to the very next one.
import type { Redis } from 'ioredis';
import { permissionsOf, type Permission, type StoredRole } from '../../src/lib/shared/permissions.js';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { RedisKeys } from '../store/keys.js';
import type { ApiKeyRecord, MemberRecord, OrganizationRecord, SessionRecord, UserRecord } from '../store/records.js';
import { actorRecordKeys, actorRecordStore } from '../store/actorRecords.js';
import type { AccountStores } from '../store/accounts.js';
import { CommandFailure } from '../errors.js';
import { parseApiKeyToken, sameHash, tokenHash } from './secrets.js';

export type Principal =
  | { kind: 'session'; sessionHash: string; userId: string; orgId: string }
  | { kind: 'support'; sessionHash: string; userId: string; orgId: string }
  /** `ancestry`: the keys it was created with, parent first (they never change, so the principal carries them). */
  | { kind: 'apiKey'; keyId: string; ownerId: string; orgId: string; ancestry: readonly string[] };

/**
 * Whose request ids and idempotency keys an action's are kept as: an API key's own, a support
 * session's, or the signed-in user's. (The rate limit counts a support session against its user:
 * store/rateLimit.ts budgetKey.)
 */
export function principalScope(principal: Principal): string {
  return principal.kind === 'apiKey' ? `key:${principal.keyId}` : `${principal.kind === 'support' ? 'support' : 'user'}:${principal.userId}`;
}

export interface Actor {
  type: 'user' | 'ciUser' | 'apiKey' | 'support';
  /** The identity whose membership applies (for a key: its owner). */
  userId: string;
  name: string;
  orgId: string;
  role: StoredRole;
  permissions: ReadonlySet<Permission>;
  principal: Principal;
  org: OrganizationRecord;
  /** The organization as stored when the actor was loaded: a commit may name it as its precondition. */
  orgRaw: string;
  audit: AuditActor;
  /** When the key or session stops being valid (null or absent: never); for a key, the earliest of its ancestry's. */
  expiresAt?: string | null;
  /**
   * For an API key: the key and the keys it was created with (itself first), as loaded. A key it
   * creates descends from all of them, and its creation is committed only while they are unchanged.
   */
  keyChain?: ReadonlyArray<{ id: string; raw: string }>;
}

const unauthenticated = (message: string) => new CommandFailure('UNAUTHENTICATED', message);

function isExpired(expiresAt: string | null | undefined, now = Date.now()): boolean {
  return expiresAt !== null && expiresAt !== undefined && Date.parse(expiresAt) <= now;
}

/** A role's permissions, the same set for every actor of that role (read-only). */
const rolePermissions = new Map<StoredRole, ReadonlySet<Permission>>();
function permissionSet(role: StoredRole): ReadonlySet<Permission> {
  let permissions = rolePermissions.get(role);
  if (!permissions) rolePermissions.set(role, (permissions = new Set(permissionsOf(role))));
  return permissions;
}

export { actorRecordKeys };

/** Loads the actor in one round trip (the records of actorRecordKeys). */
export async function loadActor(redis: Redis, keys: RedisKeys, principal: Principal): Promise<Actor> {
  return actorFromRecords(principal, await actorRecordStore(redis, keys).read(principal));
}

/** The actor as its records (read with actorRecordKeys, in that order) say it is now. */
export function actorFromRecords(principal: Principal, records: ReadonlyArray<string | null>): Actor {
  if (principal.kind === 'apiKey') {
    const [keyRaw, memberRaw, orgRaw, ...ancestorRaws] = records;
    if (!keyRaw) throw unauthenticated('This API key was revoked');
    const key = JSON.parse(keyRaw) as ApiKeyRecord;
    if (isExpired(key.expiresAt)) throw unauthenticated('This API key has expired');
    let expiresAt = key.expiresAt;
    for (const ancestorRaw of ancestorRaws) {
      if (!ancestorRaw) throw unauthenticated('The API key this key was created with was revoked, and this key with it');
      const ancestor = JSON.parse(ancestorRaw) as ApiKeyRecord;
      if (isExpired(ancestor.expiresAt)) throw unauthenticated('The API key this key was created with has expired, and this key with it');
      if (ancestor.expiresAt && (!expiresAt || Date.parse(ancestor.expiresAt) < Date.parse(expiresAt))) expiresAt = ancestor.expiresAt;
    }
    const org = liveOrg(orgRaw ?? null);
    if (!memberRaw) throw unauthenticated('The owner of this API key is no longer a member of the organization');
    const member = JSON.parse(memberRaw) as MemberRecord;
    // Effective permissions: the key's list intersected with its owner's current role.
    const ownerPermissions = permissionSet(member.role);
    const permissions = new Set(key.permissions.filter((permission) => ownerPermissions.has(permission)));
    const owner = { id: member.userId, name: member.name };
    return {
      type: member.kind === 'ciUser' ? 'ciUser' : 'apiKey',
      userId: member.userId,
      // The person (or CI user) the key acts for; the audit entry names the key itself.
      name: member.name,
      orgId: org.id,
      role: member.role,
      permissions,
      principal,
      org,
      orgRaw: orgRaw!,
      expiresAt,
      keyChain: [{ id: key.id, raw: keyRaw }, ...principal.ancestry.map((id, index) => ({ id, raw: ancestorRaws[index]! }))],
      audit:
        member.kind === 'ciUser'
          ? { type: 'ciUser', id: member.userId, name: member.name, apiKey: { id: key.id, name: key.name } }
          : { type: 'apiKey', id: key.id, name: key.name, onBehalfOf: owner },
    };
  }

  const [sessionRaw, memberRaw, orgRaw, userRaw] = records;
  if (!sessionRaw) throw unauthenticated('Your session has ended; sign in again');
  const session = JSON.parse(sessionRaw) as SessionRecord;
  if (session.userId !== principal.userId || isExpired(session.expiresAt)) throw unauthenticated('Your session has ended; sign in again');
  const org = liveOrg(orgRaw ?? null);
  if (!userRaw) throw unauthenticated('This account no longer exists');
  const user = JSON.parse(userRaw) as UserRecord;

  if (principal.kind === 'support') {
    if (!user.operator || !org.supportAuthorized) throw unauthenticated('Support access to this organization is not authorized');
    return {
      type: 'support',
      userId: user.id,
      name: user.name,
      orgId: org.id,
      role: 'admin',
      permissions: permissionSet('admin'),
      principal,
      org,
      orgRaw: orgRaw!,
      expiresAt: session.expiresAt,
      audit: { type: 'support', id: user.id, name: user.name },
    };
  }

  if (!memberRaw) throw unauthenticated('You are no longer a member of this organization');
  const member = JSON.parse(memberRaw) as MemberRecord;
  return {
    type: 'user',
    userId: member.userId,
    name: member.name,
    orgId: org.id,
    role: member.role,
    permissions: permissionSet(member.role),
    principal,
    org,
    orgRaw: orgRaw!,
    expiresAt: session.expiresAt,
    audit: { type: 'user', id: member.userId, name: member.name },
  };
}

function liveOrg(orgRaw: string | null): OrganizationRecord {
  if (!orgRaw) throw unauthenticated('This organization no longer exists');
  const org = JSON.parse(orgRaw) as OrganizationRecord;
  if (org.deletedAt) throw unauthenticated('This organization was deleted');
  return org;
}

/** Resolves an `sgn_…` token to its principal, checking the secret against the stored hash. */
export async function authenticateApiKey(stores: Pick<AccountStores, 'apiKeys'>, token: string): Promise<Principal> {
  const parsed = parseApiKeyToken(token);
  if (!parsed) throw unauthenticated('The API key is malformed');
  const key = await stores.apiKeys.forToken(parsed.keyId);
  if (!key) throw unauthenticated('The API key is not valid');
  if (!sameHash(key.secretHash, tokenHash(parsed.secret))) throw unauthenticated('The API key is not valid');
  if (isExpired(key.expiresAt)) throw unauthenticated('This API key has expired');
  return { kind: 'apiKey', keyId: key.id, ownerId: key.ownerId, orgId: key.orgId, ancestry: key.ancestry ?? [] };
}

/** Resolves a session cookie and the chosen organization (slug, or the only one) to a principal. */
export async function authenticateSession(
  stores: Pick<AccountStores, 'sessions' | 'organizations' | 'users' | 'members'>,
  sessionId: string,
  orgSlug: string | undefined,
): Promise<Principal> {
  const { sessions, organizations, users, members } = stores;
  const sessionHash = tokenHash(sessionId);
  const session = (await sessions.get(sessionHash))?.value;
  if (!session || isExpired(session.expiresAt)) throw unauthenticated('Your session has ended; sign in again');
  let orgId: string | null;
  if (orgSlug) {
    orgId = await organizations.idBySlug(orgSlug);
    if (!orgId) throw new CommandFailure('NOT_FOUND', `Organization "${orgSlug}" was not found`);
  } else {
    const orgIds = await users.orgIds(session.userId);
    if (orgIds.length !== 1) throw new CommandFailure('INVALID_INPUT', 'org: choose an organization (you belong to several, or none)');
    orgId = orgIds[0]!;
  }
  if (await members.isMember(orgId, session.userId)) return { kind: 'session', sessionHash, userId: session.userId, orgId };
  const user = (await users.get(session.userId))?.value;
  if (user?.operator) return { kind: 'support', sessionHash, userId: session.userId, orgId };
  throw new CommandFailure('FORBIDDEN', 'You are not a member of this organization');
}

/**
 * The organization's owner as an actor, for work done on the owner's behalf outside a connection
 * (the CLI's demo data, benchmark seeding). `audit` says who really acted.
 */
export async function ownerActor(stores: Pick<AccountStores, 'organizations' | 'members'>, orgId: string, audit: AuditActor): Promise<Actor> {
  const { organizations, members } = stores;
  const orgRaw = (await organizations.get(orgId))?.raw ?? null;
  const org = liveOrg(orgRaw ?? null);
  const owner = (await members.get(orgId, org.ownerId))!.value;
  return {
    type: 'user',
    userId: owner.userId,
    name: owner.name,
    orgId,
    role: 'owner',
    permissions: permissionSet('owner'),
    principal: { kind: 'session', sessionHash: 'on-behalf-of-owner', userId: owner.userId, orgId },
    org,
    orgRaw: orgRaw!,
    audit,
  };
}
