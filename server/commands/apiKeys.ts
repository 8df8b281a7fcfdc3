// apiKey.list, apiKey.create, apiKey.revoke. A key's permissions are chosen at creation as a
// subset of its creator's; what it may do is that list intersected with its owner's current role.
// A key created with another key descends from it: it expires no later and is revoked with it.
import type { Permission } from '../../src/lib/shared/permissions.js';
import { mayManageApiKey } from '../../src/lib/shared/rules.js';
import type { Actor } from '../auth/actor.js';
import { toApiKey, type ApiKeyRecord, type MemberRecord } from '../store/records.js';
import type { Loaded } from '../store/plan.js';
import { API_KEY_PREFIX, newApiKeySecret, randomId } from '../auth/secrets.js';
import { assertNotSupport, defineCommand, type CommandContext } from './define.js';
import { forbidden, invalid, notFound } from '../errors.js';

/**
 * How many keys may stand between a person and a key: each one is read on every command of its
 * descendants, so the chain is kept short.
 */
const MAX_KEY_ANCESTRY = 4;

/** How long a new key may live, and which keys it descends from. */
export interface KeyLifetime {
  expiresAt: string | null;
  /** The keys it is created with, parent first (empty when a person creates it). */
  ancestry: string[];
  /** The expiry was not chosen: it is the creating key's. */
  inheritedExpiry: boolean;
  /** The creating keys as loaded: the new key is committed only while they are unchanged. */
  createdWith: ReadonlyArray<{ id: string; raw: string }>;
}

/**
 * A key created with an API key never outlives it: its expiry is at most that key's (a missing one
 * becomes that key's, a later one is refused), and it descends from that key and its ancestors.
 */
export function keyLifetime(actor: Actor, requested: string | null): KeyLifetime {
  if (requested && Date.parse(requested) <= Date.now()) throw invalid('expiresAt', 'must be in the future');
  const chain = actor.keyChain ?? [];
  if (chain.length === 0) return { expiresAt: requested, ancestry: [], inheritedExpiry: false, createdWith: [] };
  if (chain.length > MAX_KEY_ANCESTRY) {
    throw forbidden(`A key created with an API key this far removed from a person (${chain.length} keys) cannot create keys; use one closer to a person`);
  }
  const limit = actor.expiresAt ?? null;
  if (requested && limit && Date.parse(requested) > Date.parse(limit)) {
    throw invalid('expiresAt', `must be no later than ${limit}, when the API key creating it expires`);
  }
  return {
    expiresAt: requested ?? limit,
    ancestry: chain.map(({ id }) => id),
    inheritedExpiry: !requested && limit !== null,
    createdWith: chain,
  };
}

/** A new key's record and the plan that stores it; the token is returned once, never stored. */
export function newApiKey(
  context: Pick<CommandContext, 'store'>,
  owner: MemberRecord,
  createdBy: string,
  name: string,
  permissions: Permission[],
  lifetime: KeyLifetime,
) {
  const id = randomId();
  const { token, secretHash } = newApiKeySecret(id);
  const record: ApiKeyRecord = {
    id,
    orgId: owner.orgId,
    ownerId: owner.userId,
    name,
    prefix: `${API_KEY_PREFIX}${id}`,
    permissions: [...new Set(permissions)],
    createdAt: new Date().toISOString(),
    createdBy,
    expiresAt: lifetime.expiresAt,
    lastUsedAt: null,
    ancestry: lifetime.ancestry,
    version: 1,
    secretHash,
  };
  return { record, token, plan: context.store.apiKeys.create(record, owner.kind === 'ciUser', lifetime.createdWith) };
}

/**
 * The plan that revokes `roots` and every key created with one of them (at any depth), with an
 * audit entry for each descendant beside the command's own.
 */
export async function keyRevocation(context: CommandContext, roots: Array<Loaded<ApiKeyRecord> | ApiKeyRecord>) {
  const { plan, revoked, descendants } = await context.store.apiKeys.revoke(context.actor.orgId, roots);
  const rootIds = new Set(roots.map((root) => ('raw' in root ? root.value.id : root.id)));
  return {
    plan,
    revokedIds: revoked.map((key) => key.id),
    descendants,
    alsoAudited: descendants.map((key) => ({
      action: 'apiKey.revoke',
      target: { type: 'apiKey', id: key.id, name: key.name },
      changes: { status: { before: 'active', after: 'revoked' }, revokedWith: { before: null, after: key.ancestry!.find((id) => rootIds.has(id))! } },
    })),
  };
}

export const listApiKeys = defineCommand({
  name: 'apiKey.list',
  async handler({ actor, store }) {
    const [all, members] = await Promise.all([store.apiKeys.list(actor.orgId), store.members.list(actor.orgId)]);
    const ciUserIds = new Set(members.filter((m) => m.kind === 'ciUser').map((m) => m.userId));
    const by = { userId: actor.userId, managesTeam: actor.permissions.has('team:manage') };
    return all
      .filter(({ record }) => mayManageApiKey(record, ciUserIds.has(record.ownerId), by))
      .map(({ record, lastUsedAt }) => toApiKey(record, lastUsedAt))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  },
});

export const createApiKey = defineCommand({
  name: 'apiKey.create',
  async handler(context, input) {
    const { actor, store, commit } = context;
    assertNotSupport(actor, 'create API keys');
    const beyondCreator = input.permissions.filter((permission) => !actor.permissions.has(permission));
    if (beyondCreator.length) {
      throw forbidden(`A key can only carry permissions you have yourself; you lack ${beyondCreator.join(', ')}`);
    }
    const lifetime = keyLifetime(actor, input.expiresAt);
    let owner: MemberRecord;
    if (input.ciUserId) {
      if (!actor.permissions.has('team:manage')) throw forbidden('Creating keys for CI users needs team:manage');
      const stored = await store.ciUsers.get(actor.orgId, input.ciUserId);
      if (!stored) throw notFound(`CI user ${input.ciUserId}`);
      owner = stored.value;
    } else {
      const stored = await store.members.get(actor.orgId, actor.userId);
      if (!stored) throw forbidden('Support users cannot own API keys');
      owner = stored.value;
    }
    const key = newApiKey(context, owner, actor.userId, input.name, input.permissions, lifetime);
    await commit({
      target: { type: 'apiKey', id: key.record.id, name: key.record.name },
      changes: {
        owner: { before: null, after: owner.name },
        permissions: { before: null, after: key.record.permissions },
        expiresAt: { before: null, after: key.record.expiresAt },
        ...(lifetime.ancestry.length ? { createdWithKey: { before: null, after: lifetime.ancestry[0] } } : {}),
      },
      ...key.plan,
    });
    return { apiKey: toApiKey(key.record, null), token: key.token, inheritedExpiry: lifetime.inheritedExpiry };
  },
});

export const revokeApiKey = defineCommand({
  name: 'apiKey.revoke',
  async handler(context, input) {
    const { actor, store, commit } = context;
    const stored = await store.apiKeys.get(actor.orgId, input.keyId);
    if (!stored) throw notFound(`API key ${input.keyId}`);
    const key = stored.value;
    const owner = (await store.members.get(actor.orgId, key.ownerId))?.value;
    const ownerIsCiUser = owner?.kind === 'ciUser';
    if (!mayManageApiKey(key, ownerIsCiUser, { userId: actor.userId, managesTeam: actor.permissions.has('team:manage') })) {
      throw forbidden('You can revoke only your own API keys (and, with team:manage, those of CI users)');
    }
    // The keys created with it go in the same commit (a key created meanwhile cannot be used: it
    // is checked against its ancestry on every command).
    const revocation = await keyRevocation(context, [stored]);
    await commit({
      target: { type: 'apiKey', id: key.id, name: key.name },
      changes: {
        status: { before: 'active', after: 'revoked' },
        ...(revocation.descendants.length ? { revokedWithIt: { before: null, after: revocation.descendants.map((d) => d.id) } } : {}),
      },
      ...revocation.plan,
      alsoAudited: revocation.alsoAudited,
      access: [{ keyIds: revocation.revokedIds }],
    });
    return { revoked: key.id, alsoRevoked: revocation.descendants.map((d) => d.id) };
  },
});
