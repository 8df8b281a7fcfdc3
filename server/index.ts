// Starts one Signet node: Redis clients, the command dispatcher, REST and Socket.IO on one HTTP
// server, the audit sealer and the presence heartbeat; the SvelteKit app is mounted last.
import http from 'node:http';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { connectRedis } from './store/redis.js';
import { createSignet, type Signet, type SignetIo } from './signet.js';
import { createMetrics, startRedisProbe } from './metrics.js';
import { markUiRoute, requestObserver } from './http/requestLog.js';
import { prepareStore } from './prepareStore.js';
import { SERVER_LOG_KEY, type ServerLog } from '../src/lib/shared/serverLog.js';
import { createDispatcher } from './commands/dispatch.js';
import { createApi } from './http/api.js';
import { consoleSetsItsOwnPolicy, securityHeaders } from './http/securityHeaders.js';
import { attachSocketServer } from './realtime/socketServer.js';
import { startCommittedFeed } from './realtime/committedEvents.js';
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
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  redisUrl: string;
  logger?: Logger;
  /** Serve the built SvelteKit app (build/handler.js) when present. */
  serveUi?: boolean;
  /** Test-only: DNS servers for outbound requests instead of the system resolver. */
  outboundDnsServers?: string[];
}

export async function startSignetNode({ config, redisUrl, logger, serveUi = true, outboundDnsServers }: StartOptions): Promise<SignetNode> {
  const log = logger ?? createLogger(config.LOG_LEVEL);
  const redis = await connectRedis(redisUrl);
  const signet = createSignet(config, redis, log, { outboundDnsServers });
  // A node with another installation's master key, or data in a format it does not know, stops here.
  await prepareStore(signet).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  const pub = await connectRedis(redisUrl);
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
  const sub = await connectRedis(redisUrl, subscriber);
  // Commits (this node's, other nodes', the CLI's) arrive on a subscriber of their own.
  const committedSub = await connectRedis(redisUrl, { ...subscriber, connectionName: `signet-commits-${signet.commitOrigin}` });
  const metrics = createMetrics();
  const stopRedisProbe = startRedisProbe(redis, metrics);
  const dispatcher = createDispatcher(signet, metrics);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.SIGNET_TRUST_PROXY);
  app.use(requestObserver(log, metrics));
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
  const auditWatch = startAuditWatch(signet, { alarms: metrics.auditRollbacks, intervalMs: config.SIGNET_AUDIT_CHECK_MS });
  signet.auditWatch = auditWatch;
  const stopSealer = startAuditSealer(redis, signet.keys, signet.auditKey, config.publicUrl, {
    onError: (error) => log.debug({ err: error }, 'audit sealing deferred'),
    onSealed: (orgId, checkpoint) => auditWatch.observe(orgId, checkpoint).then(() => {}),
  });
  const stopHeartbeat = startNodeHeartbeat(signet);
  const stopExpirySweep = startCertificateExpirySweep(signet);
  const queues = startSigningQueues(signet, redisUrl, { workers: true, metrics, online: (orgId) => listPresence(signet, orgId) });
  signet.jobs = queues.jobs;
  const outreach = startOutreachQueues(signet, redisUrl, { workers: true, metrics });
  signet.outreach = outreach.sender;

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.PORT, config.HOST, () => resolve());
  });
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://localhost:${port}`;
  log.info({ url, node: config.nodeId }, 'signet node listening');

  return {
    url,
    signet,
    io,
    httpServer,
    async close() {
      signet.shuttingDown = true;
      stopHeartbeat();
      stopRedisProbe();
      stopExpirySweep();
      await queues.close();
      await outreach.close();
      await stopSealer();
      await auditWatch.close();
      io.local.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      const clients = [redis, pub, sub, committedSub];
      await Promise.allSettled(clients.map((client) => client.quit()));
      for (const client of clients) client.disconnect();
    },
  };
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
