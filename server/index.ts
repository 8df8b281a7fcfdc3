// Starts one Signet node. This is its composition root: it builds, in order, the store (Redis
// clients, the entity modules, commit, the queues a commit hands jobs to), the event feed (Socket.IO's
// rooms, what each socket may see, the commit channel that delivers into them), the runtime every
// writer is handed (signet.ts), the commands and the socket server that runs them, the queues'
// workers and the node's timers, and last HTTP (REST, the SvelteKit app) — handing each what it
// needs, so what depends on what reads top to bottom. Nothing is attached afterwards.
import http from 'node:http';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { checkSubscriber, connectRedis, redisCallTimeoutMs, type RedisTarget } from './store/redis.js';
import { openStore } from './store/store.js';
import { checkDurability, replicaConfirms } from './store/durability.js';
import { prepareStore } from './prepareStore.js';
import { createSignet, type CommitAcknowledgement, type Signet } from './signet.js';
import { createMetrics, startRedisProbe } from './metrics.js';
import { createOutboundClient } from './net/outbound.js';
import { deriveAuditSigningKey } from './audit/signingKey.js';
import { startAuditSealer } from './audit/chain.js';
import { startAuditWatch, type AuditWatch } from './audit/rollbackWatch.js';
import { openSigningQueue, startSigningWorkers } from './signing/queue.js';
import { startCertificateExpirySweep } from './signing/certificateExpiry.js';
import { openOutreachQueues, startOutreachWorkers } from './outreach/queue.js';
import { createDispatcher, type Dispatcher } from './commands/dispatch.js';
import { createSocketIo, RefusedCredentials, type SignetIo } from './realtime/io.js';
import { CatchUps } from './realtime/catchUp.js';
import { createSocketAccess } from './realtime/access.js';
import { startCommittedFeed } from './realtime/committedEvents.js';
import { startAccessConfirmation } from './realtime/accessConfirmation.js';
import { createPresence, startNodeHeartbeat } from './realtime/presence.js';
import { attachSocketServer } from './realtime/socketServer.js';
import { capSocketOutput, type OutputCap } from './realtime/outputCap.js';
import { markUiRoute, requestObserver } from './http/requestLog.js';
import { createApi } from './http/api.js';
import { consoleSetsItsOwnPolicy, securityHeaders } from './http/securityHeaders.js';
import { refuseWhileDraining } from './http/drain.js';
import { createSigningApi } from './http/signingApi.js';
import { createSignPathApi } from './http/signPathApi.js';
import { SERVER_LOG_KEY, type ServerLog } from '../src/lib/shared/serverLog.js';

export interface SignetNode {
  url: string;
  signet: Signet;
  io: SignetIo;
  httpServer: http.Server;
  dispatcher: Dispatcher;
  /** This node's watch against a rolled-back audit log. */
  auditWatch: AuditWatch;
  /** The per-socket cap on output waiting to be sent. */
  outputCap: OutputCap;
  /** Drains the node (see drain below): what SIGTERM does. */
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  /** The Redis to use: a URL, or the Sentinels that name the primary. */
  redis: RedisTarget;
  logger?: Logger;
  /** Serve the built SvelteKit app (build/handler.js) when present. */
  serveUi?: boolean;
  /** Test-only: DNS servers for outbound requests instead of the system resolver. */
  outboundDnsServers?: string[];
}

export async function startSignetNode({ config, redis: redisTarget, logger, serveUi = true, outboundDnsServers }: StartOptions): Promise<SignetNode> {
  const log = logger ?? createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  /** What the parts that must not start anything new while the node drains read (set by drain below). */
  const status = { draining: false };

  // 1. The store. A node with another installation's master key, or data in a format it does not
  // know, stops here.
  const redis = await connectRedis(redisTarget, { commandTimeout: redisCallTimeoutMs(config.SIGNET_COMMAND_DEADLINE_MS) });
  const store = openStore(config, redis);
  const { keys } = store;
  const auditKey = deriveAuditSigningKey(config.masterKey);
  await prepareStore(store, config, auditKey, log).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  await checkDurability(redis, config, log).catch((error: unknown) => log.debug({ err: error }, 'durability not checked'));
  const pub = await connectRedis(redisTarget);
  // The adapter publishes without handling failures; while Redis is away that must not become an
  // unhandled rejection (which would end the process). It carries presence (re-sent to whoever
  // connects) and the confirmations of changes of access (which travel, in order, on the commit channel).
  const publish = pub.publish.bind(pub);
  pub.publish = ((...args: Parameters<typeof pub.publish>) =>
    (publish(...args) as Promise<number>).catch((error: unknown) => {
      log.debug({ err: error }, 'broadcast not published');
      return 0;
    })) as typeof pub.publish;
  // Subscribers queue their SUBSCRIBE until connected and keep no command timeout.
  const subscriber = { enableOfflineQueue: true, commandTimeout: undefined, enableAutoPipelining: false };
  const sub = await connectRedis(redisTarget, subscriber);
  // Commits (this node's, other nodes', the CLI's) arrive on a subscriber of their own.
  const committedSub = await connectRedis(redisTarget, { ...subscriber, connectionName: `signet-commits-${store.commitOrigin}` });
  const stopSubscriberChecks = [sub, committedSub].map((client) => checkSubscriber(client, redisTarget));
  const stopRedisProbe = startRedisProbe(redis, metrics);
  // Where a commit's jobs go: signing and expiry jobs, owed mail, chat messages and webhook calls.
  const signingQueue = openSigningQueue(redisTarget, { prefix: keys.bullPrefix, logger: log, metrics });
  const outreachQueues = openOutreachQueues(redisTarget, { config, redis, keys, logger: log, metrics });

  // 2. The event feed: Socket.IO's rooms on the HTTP server (whose routes come last, step 6), what
  // each socket may still see, and this node's subscription to the commit channel, which delivers
  // into the rooms in commit order.
  const app = express();
  const httpServer = http.createServer(app);
  const refused = new RefusedCredentials();
  const io = createSocketIo(httpServer, config, keys, { pub, sub }, refused);
  const catchUps = new CatchUps();
  const access = createSocketAccess({ redis, keys, logger: log, status, io, catchUps });
  const feed = await startCommittedFeed({ subscriber: committedSub, redis, channel: keys.committedChannel, origin: store.commitOrigin, logger: log, status, io, access, catchUps });
  const confirmAccess = startAccessConfirmation(io, feed, log, metrics);

  // 3. The runtime every writer is handed. A commit is acknowledged once this node's own feed
  // delivered it (every node, this one included, delivers from the channel the commit published
  // on, and applies its change of access there) and, for a change of access, the other nodes confirmed.
  const acknowledge: CommitAcknowledgement = async (committed, plan, committedAt) => {
    await feed.delivered(committed);
    if (plan.access) await confirmAccess(committed, committedAt);
  };
  const signet = createSignet({
    config,
    store,
    logger: log,
    auditKey,
    outbound: createOutboundClient({ allowedCidrs: config.outboundAllowedCidrs, dnsServers: outboundDnsServers }),
    jobs: signingQueue.jobs,
    outreach: outreachQueues.sender,
    acknowledge,
  });

  // 4. Commands, with the node's services they use, and the socket server that runs them.
  const auditWatch = startAuditWatch(signet, { alarms: metrics.auditRollbacks, intervalMs: config.SIGNET_AUDIT_CHECK_MS });
  const presence = createPresence({ redis, keys, nodeId: config.nodeId, io, status });
  const dispatcher = createDispatcher(signet, { auditWatch, presence }, metrics);
  attachSocketServer({ signet, io, refused, feed, access, catchUps, presence, dispatcher, status });
  // One listener for every socket's end (a closure per socket would be memory per connection).
  const countClosedSocket = () => metrics.sockets.dec();
  io.on('connection', (socket) => {
    metrics.sockets.inc();
    socket.on('disconnect', countClosedSocket);
  });
  const outputCap = capSocketOutput(io, httpServer, config.SIGNET_MAX_SOCKET_BUFFER_BYTES, log, () => metrics.bufferDisconnects.inc());

  // 5. The queues' workers and the node's timers.
  const signingWorkers = startSigningWorkers(signet, signingQueue, redisTarget, metrics, (orgId) => presence.list(orgId));
  const outreachWorkers = startOutreachWorkers(signet, outreachQueues, redisTarget, metrics);
  const stopSealer = startAuditSealer(redis, keys, auditKey, config.publicUrl, {
    onError: (error) => log.debug({ err: error }, 'audit sealing deferred'),
    // Remembered outside Redis only once it cannot be lost in a failover (with replicated durability).
    onSealed: (orgId, checkpoint) => replicaConfirms(redis, config).then(() => auditWatch.observe(orgId, checkpoint)).then(() => {}),
  });
  const stopHeartbeat = startNodeHeartbeat(redis, keys, config.nodeId);
  const stopExpirySweep = startCertificateExpirySweep(signet);

  // 6. HTTP: REST and the console, on the server the sockets share.
  app.disable('x-powered-by');
  app.set('trust proxy', config.SIGNET_TRUST_PROXY);
  app.use(requestObserver(log, metrics));
  app.use(refuseWhileDraining(status));
  app.use(securityHeaders(config));
  app.use(createApi(signet, dispatcher, metrics, status));
  app.use(createSigningApi(signet, dispatcher, auditWatch));
  app.use(createSignPathApi(signet, dispatcher));
  if (serveUi) await mountUi(app, log);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.PORT, config.HOST, () => resolve());
  });
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://localhost:${port}`;
  log.info({ url, node: config.nodeId }, 'signet node listening');

  /**
   * The drain (SIGTERM), bounded by SIGNET_DRAIN_TIMEOUT_MS, each phase logged as one line with a
   * `drain` field: stop accepting (no new connections, commands or signing jobs; /readyz answers
   * 503), answer every command in flight, close the sockets (clients reconnect to another node
   * and resume from the last sequence number they saw) and the HTTP connections, let running
   * signing jobs finish — or, past the bound, leave them to their locks, which lapse after
   * SIGNET_JOB_LOCK_MS so another node runs them — and close the Redis connections.
   */
  async function drain(): Promise<void> {
    const startedAt = Date.now();
    const left = () => Math.max(0, startedAt + config.SIGNET_DRAIN_TIMEOUT_MS - Date.now());
    const phase = (name: string, fields: object, message: string) =>
      log.info({ drain: name, elapsedMs: Date.now() - startedAt, ...fields }, `drain: ${message}`);

    status.draining = true;
    dispatcher.stopAccepting();
    httpServer.close();
    httpServer.closeIdleConnections();
    stopHeartbeat();
    stopRedisProbe();
    stopExpirySweep();
    for (const stop of stopSubscriberChecks) stop();
    const jobsDone = signingWorkers.stop();
    phase('stop-accepting', { commandsInFlight: dispatcher.inFlight, sockets: io.of('/').sockets.size, timeoutMs: config.SIGNET_DRAIN_TIMEOUT_MS }, 'stopped accepting connections, commands and signing jobs');

    const commandsAnswered = await settledWithin(dispatcher.idle(), left());
    phase(
      'commands',
      { answered: commandsAnswered, commandsInFlight: dispatcher.inFlight },
      commandsAnswered ? 'every command in flight was answered' : 'gave up waiting for commands in flight',
    );

    io.local.disconnectSockets(true);
    // Responses while draining carry `Connection: close`; what is idle now is closed now.
    httpServer.closeIdleConnections();
    phase('connections', {}, 'closed sockets and idle HTTP connections: clients reconnect to another node');

    const jobsFinished = await settledWithin(jobsDone, left());
    phase(
      'jobs',
      { finished: jobsFinished },
      jobsFinished ? 'signing jobs finished' : `left running signing jobs to their locks: another node takes them over within ${config.SIGNET_JOB_LOCK_MS} ms`,
    );

    const queuesClosed = [
      signingWorkers.close().then(() => signingQueue.close()),
      outreachWorkers.close().then(() => outreachQueues.close()),
    ];
    await settledWithin(Promise.allSettled([...queuesClosed, stopSealer(), auditWatch.close()]), left());
    // Socket.IO's close waits for the adapter to unsubscribe, which a paused Redis never answers.
    await settledWithin(new Promise<void>((resolve) => void io.close(() => resolve())), left());
    httpServer.closeAllConnections();
    const clients = [redis, pub, sub, committedSub];
    await settledWithin(Promise.allSettled(clients.map((client) => client.quit())), left());
    for (const client of clients) client.disconnect();
    phase('done', { drained: commandsAnswered && jobsFinished }, 'node stopped');
  }
  let closing: Promise<void> | null = null;

  return {
    url,
    signet,
    io,
    httpServer,
    dispatcher,
    auditWatch,
    outputCap,
    close() {
      closing ??= drain();
      return closing;
    },
  };
}

/** True once `work` settled, false if `ms` passed first. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = work.then(
    () => true,
    () => true,
  );
  return Promise.race([done, expired]).finally(() => clearTimeout(timer));
}

async function mountUi(app: express.Express, log: Logger): Promise<void> {
  const handlerFile = path.resolve('build/handler.js');
  if (!existsSync(handlerFile)) {
    log.warn('no built UI at build/handler.js: serving the API only (run `npm run build`)');
    return;
  }
  // The console's own server-side errors (hooks.server.ts) go to this logger as JSON.
  const serverLog: ServerLog = (level, fields, message) => log[level](fields, message);
  (globalThis as Record<symbol, unknown>)[SERVER_LOG_KEY] = serverLog;
  const { handler } = (await import(pathToFileURL(handlerFile).href)) as { handler: express.RequestHandler };
  app.use(markUiRoute, consoleSetsItsOwnPolicy, handler);
}
