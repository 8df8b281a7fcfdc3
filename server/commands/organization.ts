// me.get, org.get, org.update, org.delete
import { permissionsOf } from '../../src/lib/shared/permissions.js';
import { toOrganization, type OrganizationRecord } from '../store/records.js';
import type { AccessScope } from '../store/commit.js';
import { assertVersion, commitUpdate, defineCommand, type CommandContext } from './define.js';
import { invalid } from '../errors.js';

export const getMe = defineCommand({
  name: 'me.get',
  async handler({ actor, store }) {
    const user = actor.type === 'apiKey' || actor.type === 'ciUser' ? null : (await store.users.get(actor.userId))?.value;
    return {
      actor: actor.audit,
      user: user ? { id: user.id, email: user.email, name: user.name, kind: user.kind } : null,
      org: toOrganization(actor.org),
      role: actor.role,
      rolePermissions: permissionsOf(actor.role),
      permissions: [...actor.permissions],
    };
  },
});

export const getOrganization = defineCommand({
  name: 'org.get',
  async handler({ actor }) {
    return toOrganization(actor.org);
  },
});

export const updateOrganization = defineCommand({
  name: 'org.update',
  async handler(context, input) {
    assertVersion('The organization', input.version, context.actor.org, toOrganization(context.actor.org));
    return (await changeOrganization(context, { name: input.name })).org;
  },
});

/**
 * Changes the actor's organization (read with the actor a moment ago; the commit re-checks that it
 * is unchanged). Nothing is written when nothing changes.
 */
export async function changeOrganization(
  context: CommandContext,
  patch: Partial<Pick<OrganizationRecord, 'name' | 'supportAuthorized'>>,
  access?: AccessScope[],
) {
  const stored = { value: context.actor.org, raw: context.actor.orgRaw };
  const updated = { ...stored.value, ...patch, version: stored.value.version + 1 };
  const changed = await commitUpdate(context, {
    entity: 'organization',
    stored,
    updated,
    name: updated.name,
    plan: context.store.organizations.update(stored, updated),
    present: toOrganization,
    access,
  });
  return { org: toOrganization(changed ? updated : stored.value), changed };
}

export const deleteOrganization = defineCommand({
  name: 'org.delete',
  async handler({ actor, store, commit }, input) {
    const stored = (await store.organizations.get(actor.orgId))!;
    const org = stored.value;
    if (input.confirmSlug !== org.slug) throw invalid('confirmSlug', `type the organization's slug "${org.slug}" to confirm`);
    const [members, invitations, apiKeys] = await Promise.all([
      store.members.list(org.id),
      store.invitations.list(org.id),
      store.apiKeys.list(org.id),
    ]);
    const deleted = { ...org, deletedAt: new Date().toISOString(), version: org.version + 1 };
    // The organization's audit log is kept; everything that grants access goes.
    await commit({
      target: { type: 'organization', id: org.id, name: org.name },
      changes: { deletedAt: { before: null, after: deleted.deletedAt } },
      ...store.organizations.remove(stored, deleted, { members, invitations, apiKeys: apiKeys.map(({ record }) => record) }),
      // Every socket of the organization is cut off (after this event) on every node.
      access: [{ orgId: org.id }],
    });
    return { deleted: true };
  },
});
