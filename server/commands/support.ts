// support.authorize, support.disable: whether the instance's operators may enter this
// organization as its support user (with administrator rights). Disabling ends their sockets at once.
import { commandInputs } from '../../src/lib/shared/commands.js';
import { toOrganization } from '../store/records.js';
import { commitEntityUpdate, defineCommand, type CommandContext } from './define.js';

async function setSupportAuthorized(context: CommandContext, authorized: boolean) {
  const { actor, repos, refreshAccess } = context;
  const stored = { value: actor.org, raw: actor.orgRaw };
  const updated = { ...stored.value, supportAuthorized: authorized, version: stored.value.version + 1 };
  const changed = await commitEntityUpdate(context, {
    entity: 'organization',
    key: repos.keys.org(updated.id),
    stored,
    updated,
    name: updated.name,
    audience: ['all'],
    present: toOrganization,
  });
  if (!changed) return toOrganization(stored.value);
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
