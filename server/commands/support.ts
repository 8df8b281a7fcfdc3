// support.authorize, support.disable: whether the instance's operators may enter this
// organization as its support user (with administrator rights). Disabling ends their sockets at once.
import { commandInputs } from '../../src/lib/shared/commands.js';
import { toOrganization } from '../store/records.js';
import { changeEvent, defineCommand, type CommandContext } from './define.js';

async function setSupportAuthorized({ actor, repos, commit, refreshAccess }: CommandContext, authorized: boolean) {
  const { keys } = repos;
  const stored = (await repos.org(actor.orgId))!;
  if (stored.value.supportAuthorized === authorized) return toOrganization(stored.value);
  const updated = { ...stored.value, supportAuthorized: authorized, version: stored.value.version + 1 };
  await commit({
    target: { type: 'organization', id: updated.id, name: updated.name },
    changes: { supportAuthorized: { before: !authorized, after: authorized } },
    expect: [{ key: keys.org(updated.id), equals: stored.raw }],
    ops: [['set', keys.org(updated.id), JSON.stringify(updated)]],
    events: [changeEvent(updated.id, 'organization', 'updated', updated.id, toOrganization(updated), ['all'])],
  });
  if (!authorized) await refreshAccess({ orgId: updated.id, support: true });
  return toOrganization(updated);
}

export const authorizeSupport = defineCommand({
  name: 'support.authorize',
  input: commandInputs['support.authorize'],
  permission: 'team:manage',
  handler: (context) => setSupportAuthorized(context, true),
});

export const disableSupport = defineCommand({
  name: 'support.disable',
  input: commandInputs['support.disable'],
  permission: 'team:manage',
  handler: (context) => setSupportAuthorized(context, false),
});
