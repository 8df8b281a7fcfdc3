// apiKey.list, apiKey.create, apiKey.revoke. A key's permissions are chosen at creation as a
// subset of its creator's; what it may do is that list intersected with its owner's current role.
// A key created with another key descends from it: it expires no later and is revoked with it.
import type { Permission } from '../../src/lib/shared/permissions.js';
import { mayManageApiKey } from '../../src/lib/shared/rules.js';
import type { Actor } from '../auth/actor.js';
import type { Audience, Precondition, WriteOp } from '../store/commit.js';
import { toApiKey, type ApiKeyRecord, type MemberRecord } from '../store/records.js';
import { API_KEY_PREFIX, newApiKeySecret, randomId } from '../auth/secrets.js';
import { assertNotSupport, defineCommand, type CommandContext } from './define.js';
import { changeEvent } from '../store/events.js';
import { forbidden, invalid, notFound } from '../errors.js';

const keyAudience = (ownerId: string, ownerIsCiUser: boolean): Audience[] =>
  ownerIsCiUser ? [`u:${ownerId}`, 'p:team:manage'] : [`u:${ownerId}`];

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
  /** The creating keys must still be as loaded when the new key is committed. */
  expect: Precondition[];
}

/**
 * A key created with an API key never outlives it: its expiry is at most that key's (a missing one
 * becomes that key's, a later one is refused), and it descends from that key and its ancestors.
 */
export function keyLifetime(actor: Actor, requested: string | null, keys: CommandContext['repos']['keys']): KeyLifetime {
  if (requested && Date.parse(requested) <= Date.now()) throw invalid('expiresAt', 'must be in the future');
  const chain = actor.keyChain ?? [];
  if (chain.length === 0) return { expiresAt: requested, ancestry: [], inheritedExpiry: false, expect: [] };
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
    expect: chain.map(({ id, raw }) => ({ key: keys.apiKey(id), equals: raw })),
  };
}

/** Builds a new key record and the writes that store it; the token is returned once, never stored. */
export function newApiKey(
  orgId: string,
  owner: MemberRecord,
  createdBy: string,
  name: string,
  permissions: Permission[],
  lifetime: Pick<KeyLifetime, 'expiresAt' | 'ancestry'>,
  keys: CommandContext['repos']['keys'],
) {
  const id = randomId();
  const { token, secretHash } = newApiKeySecret(id);
  const record: ApiKeyRecord = {
    id,
    orgId,
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
  const ops: WriteOp[] = [
    ['set', keys.apiKey(id), JSON.stringify(record)],
    ['sadd', keys.orgApiKeys(orgId), id],
  ];
  const event = changeEvent(orgId, 'apiKey', 'created', id, toApiKey(record, null), keyAudience(owner.userId, owner.kind === 'ciUser'));
  return { record, token, ops, event };
}

/**
 * The writes, events and audit entries that revoke `roots` and every key created with one of them
 * (at any depth), for one commit. `revokedIds` are the keys whose live sockets must be re-checked.
 */
export async function keyRevocationWrites(context: CommandContext, roots: ApiKeyRecord[]) {
  const { actor, repos } = context;
  const { keys } = repos;
  const [all, members] = await Promise.all([repos.apiKeys(actor.orgId), repos.members(actor.orgId)]);
  const rootIds = new Set(roots.map((root) => root.id));
  const descendants = all
    .map(({ record }) => record)
    .filter((record) => !rootIds.has(record.id) && (record.ancestry ?? []).some((id) => rootIds.has(id)));
  const ciUserIds = new Set(members.filter((member) => member.kind === 'ciUser').map((member) => member.userId));
  const revoked = [...roots, ...descendants];
  return {
    revokedIds: revoked.map((key) => key.id),
    descendants,
    ops: revoked.flatMap((key): WriteOp[] => [
      ['del', keys.apiKey(key.id)],
      ['del', keys.apiKeyLastUsed(key.id)],
      ['srem', keys.orgApiKeys(actor.orgId), key.id],
    ]),
    events: revoked.map((key) => changeEvent(actor.orgId, 'apiKey', 'deleted', key.id, undefined, keyAudience(key.ownerId, ciUserIds.has(key.ownerId)))),
    /** One entry per descendant, beside the entry of the command itself. */
    alsoAudited: descendants.map((key) => ({
      action: 'apiKey.revoke',
      target: { type: 'apiKey', id: key.id, name: key.name },
      changes: { status: { before: 'active', after: 'revoked' }, revokedWith: { before: null, after: key.ancestry!.find((id) => rootIds.has(id))! } },
    })),
  };
}

export const listApiKeys = defineCommand({
  name: 'apiKey.list',
  async handler({ actor, repos }) {
    const [all, members] = await Promise.all([repos.apiKeys(actor.orgId), repos.members(actor.orgId)]);
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
  async handler({ actor, repos, commit }, input) {
    assertNotSupport(actor, 'create API keys');
    const beyondCreator = input.permissions.filter((permission) => !actor.permissions.has(permission));
    if (beyondCreator.length) {
      throw forbidden(`A key can only carry permissions you have yourself; you lack ${beyondCreator.join(', ')}`);
    }
    const lifetime = keyLifetime(actor, input.expiresAt, repos.keys);
    let owner: MemberRecord;
    if (input.ciUserId) {
      if (!actor.permissions.has('team:manage')) throw forbidden('Creating keys for CI users needs team:manage');
      const stored = await repos.member(actor.orgId, input.ciUserId);
      if (!stored || stored.value.kind !== 'ciUser') throw notFound(`CI user ${input.ciUserId}`);
      owner = stored.value;
    } else {
      const stored = await repos.member(actor.orgId, actor.userId);
      if (!stored) throw forbidden('Support users cannot own API keys');
      owner = stored.value;
    }
    const key = newApiKey(actor.orgId, owner, actor.userId, input.name, input.permissions, lifetime, repos.keys);
    await commit({
      target: { type: 'apiKey', id: key.record.id, name: key.record.name },
      changes: {
        owner: { before: null, after: owner.name },
        permissions: { before: null, after: key.record.permissions },
        expiresAt: { before: null, after: key.record.expiresAt },
        ...(lifetime.ancestry.length ? { createdWithKey: { before: null, after: lifetime.ancestry[0] } } : {}),
      },
      expect: [{ key: repos.keys.apiKey(key.record.id), equals: null }, ...lifetime.expect],
      ops: key.ops,
      events: [key.event],
    });
    return { apiKey: toApiKey(key.record, null), token: key.token, inheritedExpiry: lifetime.inheritedExpiry };
  },
});

export const revokeApiKey = defineCommand({
  name: 'apiKey.revoke',
  async handler(context, input) {
    const { actor, repos, commit } = context;
    const { keys } = repos;
    const stored = await repos.apiKey(input.keyId);
    if (!stored || stored.value.orgId !== actor.orgId) throw notFound(`API key ${input.keyId}`);
    const key = stored.value;
    const owner = (await repos.member(actor.orgId, key.ownerId))?.value;
    const ownerIsCiUser = owner?.kind === 'ciUser';
    if (!mayManageApiKey(key, ownerIsCiUser, { userId: actor.userId, managesTeam: actor.permissions.has('team:manage') })) {
      throw forbidden('You can revoke only your own API keys (and, with team:manage, those of CI users)');
    }
    // The keys created with it go in the same commit (a key created meanwhile cannot be used: it
    // is checked against its ancestry on every command).
    const revocation = await keyRevocationWrites(context, [key]);
    await commit({
      target: { type: 'apiKey', id: key.id, name: key.name },
      changes: {
        status: { before: 'active', after: 'revoked' },
        ...(revocation.descendants.length ? { revokedWithIt: { before: null, after: revocation.descendants.map((d) => d.id) } } : {}),
      },
      expect: [{ key: keys.apiKey(key.id), equals: stored.raw }],
      ops: revocation.ops,
      events: revocation.events,
      alsoAudited: revocation.alsoAudited,
      access: [{ keyIds: revocation.revokedIds }],
    });
    return { revoked: key.id, alsoRevoked: revocation.descendants.map((d) => d.id) };
  },
});
