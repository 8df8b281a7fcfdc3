// ciUser.create, ciUser.remove. CI users are members that cannot sign in: they act only through
// API keys, and get signing rights through signing policies.
import { permissionsOf } from '../../src/lib/shared/permissions.js';
import type { MemberRecord, UserRecord } from '../store/records.js';
import { toApiKey } from '../store/records.js';
import { randomId } from '../auth/secrets.js';
import { assertNotSupport, defineCommand } from './define.js';
import { changeEvent } from '../store/events.js';
import { invalid, notFound } from '../errors.js';
import { memberRemovalWrites } from './members.js';
import { keyLifetime, newApiKey } from './apiKeys.js';

export const createCiUser = defineCommand({
  name: 'ciUser.create',
  async handler({ actor, repos, commit }, input) {
    assertNotSupport(actor, 'create CI users');
    const { keys } = repos;
    const id = randomId();
    const now = new Date().toISOString();
    // CI users have no mailbox; the address only identifies them and cannot collide with a person's.
    const email = `ci-${id.toLowerCase()}@${actor.org.slug}.ci.signet.invalid`;
    const user: UserRecord = { id, email, name: input.name, kind: 'ciUser', passwordHash: null, operator: false, createdAt: now, version: 1 };
    const member: MemberRecord = { userId: id, orgId: actor.orgId, kind: 'ciUser', email, name: input.name, role: input.role, joinedAt: now, version: 1 };
    // Created with an API key, the token is bounded by that key: its lifetime, and its permissions.
    const lifetime = keyLifetime(actor, null, keys);
    const permissions = permissionsOf(input.role).filter((permission) => actor.permissions.has(permission));
    const key = newApiKey(actor.orgId, member, actor.userId, `${input.name} token`, permissions, lifetime, keys);
    await commit({
      target: { type: 'ciUser', id, name: input.name },
      changes: { role: { before: null, after: input.role }, apiKey: { before: null, after: key.record.prefix } },
      expect: [{ key: keys.user(id), equals: null }, ...lifetime.expect],
      ops: [
        ['set', keys.user(id), JSON.stringify(user)],
        ['hset', keys.usersByEmail, email, id],
        ['sadd', keys.userOrgs(id), actor.orgId],
        ['set', keys.member(actor.orgId, id), JSON.stringify(member)],
        ['sadd', keys.orgMembers(actor.orgId), id],
        ...key.ops,
      ],
      events: [changeEvent(actor.orgId, 'member', 'created', id, member, ['p:team:read']), key.event],
    });
    return { ciUser: member, apiKey: toApiKey(key.record, null), token: key.token };
  },
});

export const removeCiUser = defineCommand({
  name: 'ciUser.remove',
  async handler(context, input) {
    const { actor, repos, commit } = context;
    const stored = await repos.member(actor.orgId, input.userId);
    if (!stored) throw notFound(`CI user ${input.userId}`);
    if (stored.value.kind !== 'ciUser') throw invalid('userId', 'this member is not a CI user; use member.remove');
    const removal = await memberRemovalWrites(context, stored.value);
    await commit({
      target: { type: 'ciUser', id: stored.value.userId, name: stored.value.name },
      changes: { role: { before: stored.value.role, after: null } },
      expect: [{ key: repos.keys.member(actor.orgId, input.userId), equals: stored.raw }],
      ops: removal.ops,
      events: removal.events,
      alsoAudited: removal.alsoAudited,
      access: removal.access,
    });
    return { removed: input.userId, revokedApiKeys: removal.revokedKeys };
  },
});
