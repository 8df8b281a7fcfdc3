// ciUser.create, ciUser.remove. CI users are members that cannot sign in: they act only through
// API keys, and get signing rights through signing policies.
import { permissionsOf } from '../../src/lib/shared/permissions.js';
import type { MemberRecord, UserRecord } from '../store/records.js';
import { toApiKey } from '../store/records.js';
import { combinePlans } from '../store/plan.js';
import { randomId } from '../auth/secrets.js';
import { assertNotSupport, defineCommand } from './define.js';
import { invalid, notFound } from '../errors.js';
import { memberRemoval } from './members.js';
import { keyLifetime, newApiKey } from './apiKeys.js';

export const createCiUser = defineCommand({
  name: 'ciUser.create',
  async handler(context, input) {
    const { actor, store, commit } = context;
    assertNotSupport(actor, 'create CI users');
    const id = randomId();
    const now = new Date().toISOString();
    // CI users have no mailbox; the address only identifies them and cannot collide with a person's.
    const email = `ci-${id.toLowerCase()}@${actor.org.slug}.ci.signet.invalid`;
    const user: UserRecord = { id, email, name: input.name, kind: 'ciUser', passwordHash: null, operator: false, createdAt: now, version: 1 };
    const member: MemberRecord = { userId: id, orgId: actor.orgId, kind: 'ciUser', email, name: input.name, role: input.role, joinedAt: now, version: 1 };
    // Created with an API key, the token is bounded by that key: its lifetime, and its permissions.
    const lifetime = keyLifetime(actor, null);
    const permissions = permissionsOf(input.role).filter((permission) => actor.permissions.has(permission));
    const key = newApiKey(context, member, actor.userId, `${input.name} token`, permissions, lifetime);
    await commit({
      target: { type: 'ciUser', id, name: input.name },
      changes: { role: { before: null, after: input.role }, apiKey: { before: null, after: key.record.prefix } },
      ...combinePlans(store.ciUsers.create(user, member), key.plan),
    });
    return { ciUser: member, apiKey: toApiKey(key.record, null), token: key.token };
  },
});

export const removeCiUser = defineCommand({
  name: 'ciUser.remove',
  async handler(context, input) {
    const stored = await context.store.members.get(context.actor.orgId, input.userId);
    if (!stored) throw notFound(`CI user ${input.userId}`);
    if (stored.value.kind !== 'ciUser') throw invalid('userId', 'this member is not a CI user; use member.remove');
    // The same removal as member.remove's: the account, its email and its keys go with it.
    const removal = await memberRemoval(context, stored);
    await context.commit(removal.change);
    return { removed: input.userId, revokedApiKeys: removal.revokedKeys };
  },
});
