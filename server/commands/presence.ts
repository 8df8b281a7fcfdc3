// presence.update: which page this connection is on. Presence is live state, not a change of
// record: it is not audited and not replayed, only broadcast.
import { broadcastPresence, setPresence } from '../realtime/presence.js';
import { defineCommand } from './define.js';

export const updatePresence = defineCommand({
  name: 'presence.update',
  async handler({ actor, signet, socketId }, input) {
    if (socketId) {
      await setPresence(signet, actor.orgId, socketId, {
        userId: actor.userId,
        name: actor.name,
        page: input.page,
        since: new Date().toISOString(),
      });
    }
    return { online: await broadcastPresence(signet, actor.orgId) };
  },
});
