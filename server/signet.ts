// The runtime every part of the server shares: configuration, Redis, repositories, the audit key,
// and `apply`, which commits a change with its audit entry and then delivers it to live sockets.
import { randomUUID } from 'node:crypto';
import type { Server } from 'socket.io';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { redisKeys, type RedisKeys } from './store/keys.js';
import { createRepositories, type Repositories } from './store/repositories.js';
import { commit, type CommitPlan, type Committed } from './store/commit.js';
import { durably } from './store/durability.js';
import { deriveAuditSigningKey, type AuditSigningKey } from './audit/chain.js';
import type { CommittedFeed } from './realtime/committedEvents.js';
import type { AuditWatch } from './audit/rollbackWatch.js';
import type { SigningJobs } from './signing/lifecycle.js';
import { createOutboundClient, type OutboundClient } from './net/outbound.js';
import type { DeliverySender } from './outreach/deliveries.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/lib/shared/events.js';

export type SignetIo = Server<ClientToServerEvents, ServerToClientEvents>;

export interface Signet {
  config: Config;
  redis: Redis;
  keys: RedisKeys;
  repos: Repositories;
  logger: Logger;
  auditKey: AuditSigningKey;
  /** Set once the Socket.IO server is attached; CLI runs have none. */
  io: SignetIo | null;
  /**
   * Who this Signet instance is in the commits it publishes (random, unlike a configured node id,
   * which two nodes could share): how a node knows its own commits when they come back.
   */
  commitOrigin: string;
  /** The node's subscription to the commit channel, which delivers to its sockets; CLI runs have none. */
  feed: CommittedFeed | null;
  /**
   * After this node applied a change of access it committed (its own feed re-checked the sockets in
   * scope): waits, for a bounded time, until every other node has too. Ordering does not depend on
   * it (each node applies the change before anything committed after it); the acknowledgement does.
   * Set by the socket server; CLI runs have none.
   */
  confirmAccess: (committed: Committed, committedAt: number) => Promise<void>;
  /** The node's watch against a rolled-back audit log; CLI runs have none. */
  auditWatch: AuditWatch | null;
  /** The job queues, on nodes (and CLI runs) that have them. */
  jobs: SigningJobs | null;
  /** Queues owed mail, chat messages and webhook calls, on nodes; elsewhere the nodes' reconcilers do. */
  outreach: DeliverySender | null;
  /** Every request the server sends of its own (webhooks, chat, JWKS, a policy's TSA) goes through this. */
  outbound: OutboundClient;
  /** Set while the node closes: no more presence broadcasts. */
  shuttingDown: boolean;
  apply(plan: CommitPlan): Promise<Committed>;
}

export interface SignetOptions {
  /** Test-only: DNS servers for outbound requests instead of the system resolver. */
  outboundDnsServers?: string[];
}

export function createSignet(config: Config, redis: Redis, logger: Logger, options: SignetOptions = {}): Signet {
  const keys = redisKeys(config.SIGNET_REDIS_PREFIX);
  const signet: Signet = {
    config,
    redis,
    keys,
    repos: createRepositories(redis, keys),
    logger,
    auditKey: deriveAuditSigningKey(config.masterKey),
    io: null,
    commitOrigin: randomUUID(),
    feed: null,
    shuttingDown: false,
    jobs: null,
    outreach: null,
    outbound: createOutboundClient({ allowedCidrs: config.outboundAllowedCidrs, dnsServers: options.outboundDnsServers }),
    auditWatch: null,
    confirmAccess: async () => {},
    async apply(plan) {
      // With SIGNET_DURABILITY=replicated, not acknowledged before a replica has it too.
      const committed = await durably(redis, config, () =>
        commit(redis, keys, config.SIGNET_EVENT_RETENTION, plan, {
          channel: keys.committedChannel,
          origin: signet.commitOrigin,
        }),
      );
      const committedAt = performance.now();
      // Every node, this one included, delivers it from the channel the commit published on (and
      // applies its change of access there); the command is acknowledged after this node did.
      if (signet.feed) await signet.feed.delivered(committed);
      if (plan.access) await signet.confirmAccess(committed, committedAt);
      return committed;
    },
  };
  return signet;
}
