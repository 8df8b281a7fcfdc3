// presence.update: which page this connection is on. Presence is live state, not a change of
// record: it is not audited and not replayed, only broadcast.
import { CommandFailure } from '../errors.js';
import { defineCommand } from './define.js';

export const updatePresence = defineCommand({
  name: 'presence.update',
  async handler({ actor, node, socketId }, input) {
    const { presence } = node;
    if (!presence) throw new CommandFailure('UNAVAILABLE', 'Presence is kept by the nodes; connect to one');
    if (socketId) {
      await presence.set(actor.orgId, socketId, {
        userId: actor.userId,
        name: actor.name,
        page: input.page,
        since: new Date().toISOString(),
      });
    }
    return { online: await presence.broadcast(actor.orgId) };
  },
});
