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
import type { ClientToServerEvents, ServerToClientEvents } from '../src/lib/shared/events.js';

export type SignetIo = Server<ClientToServerEvents, ServerToClientEvents>;

/** Which live sockets must be re-checked after a change of access. */
export interface AccessScope {
  orgId?: string;
  userId?: string;
  /** Sockets authenticated with one of these API keys. */
  keyIds?: readonly string[];
  sessionHash?: string;
  /** Support sockets of this organization. */
  support?: boolean;
}

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
   * Re-checks matching live sockets on every node; resolves when all nodes are done. The socket
   * that sent the command (if it lost access) is cut off right after its acknowledgement instead.
   */
  refreshAccess: (scope: AccessScope, callerSocketId?: string) => Promise<void>;
  /** The node's watch against a rolled-back audit log; CLI runs have none. */
  auditWatch: AuditWatch | null;
  /** The job queues, on nodes (and CLI runs) that have them. */
  jobs: SigningJobs | null;
  /** Every request the server sends of its own (webhooks, JWKS) goes through this. */
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
    outbound: createOutboundClient({ allowedCidrs: config.outboundAllowedCidrs, dnsServers: options.outboundDnsServers }),
    auditWatch: null,
    refreshAccess: async () => {},
    async apply(plan) {
      // With SIGNET_DURABILITY=replicated, not acknowledged before a replica has it too.
      const committed = await durably(redis, config, () =>
        commit(redis, keys, config.SIGNET_EVENT_RETENTION, plan, {
          channel: keys.committedChannel,
          origin: signet.commitOrigin,
        }),
      );
      // Every node, this one included, delivers it from the channel the commit published on; the
      // command is acknowledged after this node's sockets have it.
      if (signet.feed) await signet.feed.delivered(committed);
      return committed;
    },
  };
  return signet;
}
