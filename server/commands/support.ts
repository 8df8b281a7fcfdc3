// support.authorize, support.disable: whether the instance's operators may enter this
// organization as its support user (with administrator rights). Disabling ends their sockets at once.
import { defineCommand, type CommandContext } from './define.js';
import { changeOrganization } from './organization.js';

async function setSupportAuthorized(context: CommandContext, authorized: boolean) {
  const access = authorized ? undefined : [{ orgId: context.actor.orgId, support: true }];
  return (await changeOrganization(context, { supportAuthorized: authorized }, access)).org;
}

export const authorizeSupport = defineCommand({
  name: 'support.authorize',
  handler: (context) => setSupportAuthorized(context, true),
});

export const disableSupport = defineCommand({
  name: 'support.disable',
  handler: (context) => setSupportAuthorized(context, false),
});
