// me.get, org.get, org.update, org.delete
import { permissionsOf } from '../../src/lib/shared/permissions.js';
import { toOrganization, type OrganizationRecord } from '../store/records.js';
import type { AccessScope } from '../store/commit.js';
import { assertVersion, commitEntityUpdate, defineCommand, type CommandContext } from './define.js';
import { changeEvent } from '../store/events.js';
import { invalid } from '../errors.js';

export const getMe = defineCommand({
  name: 'me.get',
  async handler({ actor, repos }) {
    const user = actor.type === 'apiKey' || actor.type === 'ciUser' ? null : (await repos.user(actor.userId))?.value;
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
  const changed = await commitEntityUpdate(context, {
    entity: 'organization',
    key: context.repos.keys.org(updated.id),
    stored,
    updated,
    name: updated.name,
    audience: ['all'],
    present: toOrganization,
    access,
  });
  return { org: toOrganization(changed ? updated : stored.value), changed };
}

export const deleteOrganization = defineCommand({
  name: 'org.delete',
  async handler({ actor, repos, commit }, input) {
    const { keys } = repos;
    const stored = (await repos.org(actor.orgId))!;
    const org = stored.value;
    if (input.confirmSlug !== org.slug) throw invalid('confirmSlug', `type the organization's slug "${org.slug}" to confirm`);
    const [members, invitations, apiKeys] = await Promise.all([
      repos.members(org.id),
      repos.invitations(org.id),
      repos.apiKeys(org.id),
    ]);
    const deleted = { ...org, deletedAt: new Date().toISOString(), version: org.version + 1 };
    // The organization's audit log is kept; everything that grants access goes.
    await commit({
      target: { type: 'organization', id: org.id, name: org.name },
      changes: { deletedAt: { before: null, after: deleted.deletedAt } },
      expect: [{ key: keys.org(org.id), equals: stored.raw }],
      ops: [
        ['set', keys.org(org.id), JSON.stringify(deleted)],
        ['hdel', keys.orgSlugs, org.slug],
        ['srem', keys.orgIds, org.id],
        ...members.flatMap((m) => [
          ['del', keys.member(org.id, m.userId)] as const,
          ['srem', keys.userOrgs(m.userId), org.id] as const,
        ]),
        ...invitations.flatMap((i) => [['del', keys.invite(i.id)] as const, ['del', keys.inviteToken(i.tokenHash)] as const]),
        ...apiKeys.map(({ record }) => ['del', keys.apiKey(record.id)] as const),
        ['del', keys.orgMembers(org.id)],
        ['del', keys.orgInvites(org.id)],
        ['del', keys.orgApiKeys(org.id)],
      ],
      events: [changeEvent(org.id, 'organization', 'deleted', org.id, undefined, ['all'])],
      // Every socket of the organization is cut off (after this event) on every node.
      access: [{ orgId: org.id }],
    });
    return { deleted: true };
  },
});
