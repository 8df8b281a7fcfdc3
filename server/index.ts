// Starts one Signet node: Redis clients, the command dispatcher, REST and Socket.IO on one HTTP
// server, the audit sealer and the presence heartbeat; the SvelteKit app is mounted last.
import http from 'node:http';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { checkSubscriber, connectRedis, type RedisTarget } from './store/redis.js';
import { createSignet, type Signet, type SignetIo } from './signet.js';
import { createMetrics, startRedisProbe } from './metrics.js';
import { markUiRoute, requestObserver } from './http/requestLog.js';
import { prepareStore } from './prepareStore.js';
import { checkDurability, replicaConfirms } from './store/durability.js';
import { SERVER_LOG_KEY, type ServerLog } from '../src/lib/shared/serverLog.js';
import { createDispatcher, type Dispatcher } from './commands/dispatch.js';
import { createApi } from './http/api.js';
import { consoleSetsItsOwnPolicy, securityHeaders } from './http/securityHeaders.js';
import { refuseWhileDraining } from './http/drain.js';
import { attachSocketServer } from './realtime/socketServer.js';
import { startCommittedFeed } from './realtime/committedEvents.js';
import { capSocketOutput, type OutputCap } from './realtime/outputCap.js';
import { startAuditSealer } from './audit/chain.js';
import { startAuditWatch } from './audit/rollbackWatch.js';
import { listPresence, startNodeHeartbeat } from './realtime/presence.js';
import { createSigningApi } from './http/signingApi.js';
import { createSignPathApi } from './http/signPathApi.js';
import { startSigningQueues } from './signing/queue.js';
import { startCertificateExpirySweep } from './signing/certificateExpiry.js';
import { startOutreachQueues } from './outreach/queue.js';

export interface SignetNode {
  url: string;
  signet: Signet;
  io: SignetIo;
  httpServer: http.Server;
  dispatcher: Dispatcher;
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
  const redis = await connectRedis(redisTarget);
  const signet = createSignet(config, redis, log, { outboundDnsServers });
  // A node with another installation's master key, or data in a format it does not know, stops here.
  await prepareStore(signet).catch((error: unknown) => {
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
  const committedSub = await connectRedis(redisTarget, { ...subscriber, connectionName: `signet-commits-${signet.commitOrigin}` });
  const stopSubscriberChecks = [sub, committedSub].map((client) => checkSubscriber(client, redisTarget));
  const metrics = createMetrics();
  const stopRedisProbe = startRedisProbe(redis, metrics);
  const dispatcher = createDispatcher(signet, metrics);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.SIGNET_TRUST_PROXY);
  app.use(requestObserver(log, metrics));
  app.use(refuseWhileDraining(signet));
  app.use(securityHeaders(config));
  app.use(createApi(signet, dispatcher, metrics));
  app.use(createSigningApi(signet, dispatcher));
  app.use(createSignPathApi(signet, dispatcher));
  if (serveUi) await mountUi(app, log);

  const httpServer = http.createServer(app);
  const { io, access } = attachSocketServer(signet, httpServer, dispatcher, { pub, sub }, metrics);
  signet.feed = await startCommittedFeed(signet, committedSub, io, access);
  io.on('connection', (socket) => {
    metrics.sockets.inc();
    socket.on('disconnect', () => metrics.sockets.dec());
  });
  const outputCap = capSocketOutput(io, httpServer, config.SIGNET_MAX_SOCKET_BUFFER_BYTES, log, () => metrics.bufferDisconnects.inc());
  const auditWatch = startAuditWatch(signet, { alarms: metrics.auditRollbacks, intervalMs: config.SIGNET_AUDIT_CHECK_MS });
  signet.auditWatch = auditWatch;
  const stopSealer = startAuditSealer(redis, signet.keys, signet.auditKey, config.publicUrl, {
    onError: (error) => log.debug({ err: error }, 'audit sealing deferred'),
    // Remembered outside Redis only once it cannot be lost in a failover (with replicated durability).
    onSealed: (orgId, checkpoint) => replicaConfirms(redis, config).then(() => auditWatch.observe(orgId, checkpoint)).then(() => {}),
  });
  const stopHeartbeat = startNodeHeartbeat(signet);
  const stopExpirySweep = startCertificateExpirySweep(signet);
  const queues = startSigningQueues(signet, redisTarget, { workers: true, metrics, online: (orgId) => listPresence(signet, orgId) });
  signet.jobs = queues.jobs;
  const outreach = startOutreachQueues(signet, redisTarget, { workers: true, metrics });
  signet.outreach = outreach.sender;

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

    signet.shuttingDown = true;
    dispatcher.stopAccepting();
    httpServer.close();
    httpServer.closeIdleConnections();
    stopHeartbeat();
    stopRedisProbe();
    stopExpirySweep();
    for (const stop of stopSubscriberChecks) stop();
    const jobsDone = queues.stopWorkers();
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

    await settledWithin(Promise.allSettled([queues.close(), outreach.close(), stopSealer(), auditWatch.close()]), left());
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
