// apiKey.list, apiKey.create, apiKey.revoke. A key's permissions are chosen at creation as a
// subset of its creator's; what it may do is that list intersected with its owner's current role.
import { commandInputs } from '../../src/lib/shared/commands.js';
import type { Permission } from '../../src/lib/shared/permissions.js';
import type { Audience, WriteOp } from '../store/commit.js';
import { toApiKey, type ApiKeyRecord, type MemberRecord } from '../store/records.js';
import { API_KEY_PREFIX, newApiKeySecret, randomId } from '../auth/secrets.js';
import { assertNotSupport, changeEvent, defineCommand, type CommandContext } from './define.js';
import { forbidden, invalid, notFound } from './errors.js';

const keyAudience = (ownerId: string, ownerIsCiUser: boolean): Audience[] =>
  ownerIsCiUser ? [`u:${ownerId}`, 'p:team:manage'] : [`u:${ownerId}`];

/** Builds a new key record and the writes that store it; the token is returned once, never stored. */
export function newApiKey(
  orgId: string,
  owner: MemberRecord,
  createdBy: string,
  name: string,
  permissions: Permission[],
  expiresAt: string | null,
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
    expiresAt,
    lastUsedAt: null,
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

export const listApiKeys = defineCommand({
  name: 'apiKey.list',
  input: commandInputs['apiKey.list'],
  permission: null,
  async handler({ actor, repos }) {
    const [all, members] = await Promise.all([repos.apiKeys(actor.orgId), repos.members(actor.orgId)]);
    const ciUserIds = new Set(members.filter((m) => m.kind === 'ciUser').map((m) => m.userId));
    const seesCiKeys = actor.permissions.has('team:manage');
    return all
      .filter(({ record }) => record.ownerId === actor.userId || (seesCiKeys && ciUserIds.has(record.ownerId)))
      .map(({ record, lastUsedAt }) => toApiKey(record, lastUsedAt))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  },
});

export const createApiKey = defineCommand({
  name: 'apiKey.create',
  input: commandInputs['apiKey.create'],
  permission: 'apikey:write',
  async handler({ actor, repos, commit }, input) {
    assertNotSupport(actor, 'create API keys');
    const beyondCreator = input.permissions.filter((permission) => !actor.permissions.has(permission));
    if (beyondCreator.length) {
      throw forbidden(`A key can only carry permissions you have yourself; you lack ${beyondCreator.join(', ')}`);
    }
    if (input.expiresAt && Date.parse(input.expiresAt) <= Date.now()) {
      throw invalid('expiresAt', 'must be in the future');
    }
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
    const key = newApiKey(actor.orgId, owner, actor.userId, input.name, input.permissions, input.expiresAt, repos.keys);
    await commit({
      target: { type: 'apiKey', id: key.record.id, name: key.record.name },
      changes: {
        owner: { before: null, after: owner.name },
        permissions: { before: null, after: key.record.permissions },
        expiresAt: { before: null, after: key.record.expiresAt },
      },
      expect: [{ key: repos.keys.apiKey(key.record.id), equals: null }],
      ops: key.ops,
      events: [key.event],
    });
    return { apiKey: toApiKey(key.record, null), token: key.token };
  },
});

export const revokeApiKey = defineCommand({
  name: 'apiKey.revoke',
  input: commandInputs['apiKey.revoke'],
  permission: 'apikey:write',
  async handler({ actor, repos, commit, refreshAccess }, input) {
    const { keys } = repos;
    const stored = await repos.apiKey(input.keyId);
    if (!stored || stored.value.orgId !== actor.orgId) throw notFound(`API key ${input.keyId}`);
    const key = stored.value;
    const owner = (await repos.member(actor.orgId, key.ownerId))?.value;
    const ownerIsCiUser = owner?.kind === 'ciUser';
    if (key.ownerId !== actor.userId && !(ownerIsCiUser && actor.permissions.has('team:manage'))) {
      throw forbidden('You can revoke only your own API keys (and, with team:manage, those of CI users)');
    }
    await commit({
      target: { type: 'apiKey', id: key.id, name: key.name },
      changes: { status: { before: 'active', after: 'revoked' } },
      expect: [{ key: keys.apiKey(key.id), equals: stored.raw }],
      ops: [
        ['del', keys.apiKey(key.id)],
        ['del', keys.apiKeyLastUsed(key.id)],
        ['srem', keys.orgApiKeys(actor.orgId), key.id],
      ],
      events: [changeEvent(actor.orgId, 'apiKey', 'deleted', key.id, undefined, keyAudience(key.ownerId, ownerIsCiUser))],
    });
    await refreshAccess({ keyId: key.id });
    return { revoked: key.id };
  },
});
