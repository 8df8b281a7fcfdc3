// The "Signet's I/O" reference of the command scenario: a Socket.IO server that makes exactly the
// Redis calls and socket writes a Signet node makes for an org.update, through Signet's own store
// and delivery functions, and none of Signet's logic. Per command:
//   1. the rate-limit count with the actor's four records read in the same Lua call (store/rateLimit.ts);
//   2. Signet's commit script: a precondition on the record read, the record's write, the audit entry
//      (its index, the chain's work list) and the change event, published on the commit channel
//      (store/commit.ts);
//   3. the entry and the change reach the sender through a node's own feed of that channel
//      (realtime/committedEvents.ts), sent on as published (realtime/encodedEvents.ts), and the ack
//      follows them in the same write (realtime/outputCap.ts), as a node acknowledges a commit once
//      its feed delivered it.
// No validation, permission check, actor, deadline, audit diff, chain sealing, metrics or access
// checks: the distance from Signet to this is Signet's own work; the distance from this to the
// "same I/O" reference (bareServer.ts) is the I/O Signet's guarantees add to a command.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Server } from 'socket.io';
import { connectRedis } from '../../server/store/redis.js';
import { redisKeys } from '../../server/store/keys.js';
import { commit, type AuditDraft } from '../../server/store/commit.js';
import { createActorBudgets } from '../../server/store/rateLimit.js';
import { signetParser } from '../../server/realtime/encodedEvents.js';
import { startCommittedFeed } from '../../server/realtime/committedEvents.js';
import { CatchUps } from '../../server/realtime/catchUp.js';
import { orgRoom, permissionRoom } from '../../server/realtime/rooms.js';
import { capSocketOutput } from '../../server/realtime/outputCap.js';
import type { SignetIo } from '../../server/realtime/io.js';
import { createLogger } from '../../server/logger.js';
import { serveIpc } from './ipc.js';

interface Configuration {
  /** What an org.update ack's result looks like: name and version are filled in per command. */
  commandResult: Record<string, unknown>;
  /** The audit entry an org.update writes, as sockets received it (its `seq` is the commit's to assign). */
  auditEntry: Record<string, unknown>;
  /** A Signet actor's records as stored (session, membership, organization, account): each connection reads copies. */
  actorRecords: string[];
}

let configuration: Configuration | null = null;
const storeUrl = process.env.BARE_STORE_REDIS_URL;
if (!storeUrl) throw new Error('BARE_STORE_REDIS_URL is required');
const port = Number(process.env.PORT ?? 0);
const RETENTION = 100_000;

const keys = redisKeys(`bench:signet-io:${process.pid}:`);
const redis = await connectRedis(storeUrl);
const subscriber = await connectRedis(storeUrl, { enableOfflineQueue: true, commandTimeout: undefined, enableAutoPipelining: false });
// Never refused: the count is made for its I/O.
const budgets = createActorBudgets(redis, keys.rateLimit, 1e12, 1e12);
const origin = randomBytes(8).toString('hex');
const publishTo = { channel: keys.committedChannel, origin };

const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
const io = new Server(httpServer, { serveClient: false, parser: signetParser });
capSocketOutput(io as unknown as SignetIo, httpServer, 1 << 30, createLogger('silent'), () => {});

// Delivery from the channel through a node's own feed (realtime/committedEvents.ts): no access to
// re-check (nobody's access changes here) and no socket being caught up.
const feed = await startCommittedFeed({
  subscriber,
  redis,
  channel: keys.committedChannel,
  origin,
  logger: createLogger('silent'),
  status: { draining: false },
  io: io as unknown as SignetIo,
  access: { apply: async () => {}, expireDue: () => {} },
  catchUps: new CatchUps(),
});

let connections = 0;
io.on('connection', (socket) => {
  // Each connection is an organization of its own with its one owner, as in the scenario.
  const orgId = `sio${(connections += 1)}${randomBytes(4).toString('hex')}`;
  const userId = `u${orgId}`;
  // The rooms a node puts an owner's socket in that these events go to.
  void socket.join([orgRoom(orgId), permissionRoom(orgId, 'audit:read')]);
  const recordKeys = [keys.session(randomBytes(16).toString('hex')), keys.member(orgId, userId), keys.org(orgId), keys.user(userId)];
  const budgetKey = `user:${userId}`;
  let seeded: Promise<unknown> | null = null;

  socket.on('command', (_name: string, input: { name?: string; version?: number }, ack: (response: unknown) => void) => {
    if (typeof ack !== 'function') return;
    const configured = configuration;
    if (!configured) return ack({ ok: false, error: { code: 'UNAVAILABLE', message: 'not configured yet' } });
    seeded ??= redis.mset(recordKeys.flatMap((key, index) => [key, configured.actorRecords[index]!]));
    const result = { ...configured.commandResult, id: orgId, name: input?.name, version: (input?.version ?? 0) + 1 };
    const { seq: _seq, ...entry } = configured.auditEntry;
    void seeded
      .then(() => budgets.count(budgetKey, recordKeys))
      .then(({ records }) => {
        const draft = {
          ...entry,
          orgId,
          time: new Date().toISOString(),
          target: { ...(entry.target as object), id: orgId },
        } as unknown as AuditDraft;
        const change = { entity: 'organization', id: orgId, op: 'updated', data: result, version: result.version };
        return commit(
          redis,
          keys,
          RETENTION,
          {
            expect: [{ key: recordKeys[2]!, equals: records[2] ?? null }],
            ops: [['set', recordKeys[2]!, JSON.stringify(result)]],
            audits: [draft],
            events: [{ orgId, kind: 'change', audience: ['all'], data: change }],
          },
          publishTo,
        );
      })
      .then((committed) => feed.delivered(committed))
      .then(
        () => ack({ ok: true, result }),
        (error: Error) => ack({ ok: false, error: { code: 'UNAVAILABLE', message: error.message } }),
      );
  });
  socket.emit('ready', { seq: 0, resumed: true, replayed: 0 });
});

await new Promise<void>((resolve) => httpServer.listen(port, '127.0.0.1', resolve));
const address = httpServer.address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;

serveIpc(
  {
    configure: (message) => {
      configuration = message.configuration as Configuration;
      return true;
    },
    sockets: () => io.of('/').sockets.size,
  },
  url,
);

const stop = () => {
  void io.close();
  redis.disconnect();
  subscriber.disconnect();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
