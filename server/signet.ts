// The runtime every writer and reader is handed: configuration, the store (Redis, keys,
// entity modules), the audit key, the outbound client, the queues a commit may owe jobs to, and
// `apply`, which commits a change with its audit entry and resolves once it may be acknowledged.
// It is built complete by a composition root — server/index.ts for a node, standaloneSignet for
// the CLI — and never changed afterwards.
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { RedisKeys } from './store/keys.js';
import type { CommitPlan, Committed } from './store/commit.js';
import { openStore, type Store } from './store/store.js';
import { actingContext, type Acting, type ActingContext } from './store/acting.js';
import { deriveAuditSigningKey, type AuditSigningKey } from './audit/signingKey.js';
import { createOutboundClient, type OutboundClient } from './net/outbound.js';
import type { SigningJobs } from './signing/jobs.js';
import type { DeliverySender } from './outreach/deliveries.js';

export interface Signet {
  readonly config: Config;
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** The store: its per-entity modules read scoped to an organization and plan every write (store/entities.ts). */
  readonly store: Store;
  readonly logger: Logger;
  readonly auditKey: AuditSigningKey;
  /** Who this process is in the commits it publishes (store.ts). */
  readonly commitOrigin: string;
  /** Every request the server sends of its own (webhooks, chat, JWKS, a policy's TSA) goes through this. */
  readonly outbound: OutboundClient;
  /** The signing job queue, on nodes; CLI runs leave queueing to the nodes' reconcilers. */
  readonly jobs: SigningJobs | null;
  /** Queues owed mail, chat messages and webhook calls, on nodes; elsewhere the nodes' reconcilers do. */
  readonly outreach: DeliverySender | null;
  /** Commits the change with its audit entries and events, then waits for what its acknowledgement needs. */
  apply(plan: CommitPlan): Promise<Committed>;
  /** The acting context a writer commits through: who acts, in which organization, from where (store/acting.ts). */
  acting(acting: Acting): ActingContext;
}

/**
 * What a commit waits for before it is acknowledged: on a node, its own feed delivering it and, for
 * a change of access, the other nodes confirming it (index.ts). `committedAt`: performance.now() when
 * Redis answered.
 */
export type CommitAcknowledgement = (committed: Committed, plan: CommitPlan, committedAt: number) => Promise<void>;

export interface SignetParts {
  config: Config;
  store: Store;
  logger: Logger;
  auditKey: AuditSigningKey;
  outbound: OutboundClient;
  jobs: SigningJobs | null;
  outreach: DeliverySender | null;
  /** null: a commit is acknowledged once written (a CLI run has no feed to wait for). */
  acknowledge: CommitAcknowledgement | null;
}

export function createSignet({ config, store, logger, auditKey, outbound, jobs, outreach, acknowledge }: SignetParts): Signet {
  return Object.freeze({
    config,
    redis: store.redis,
    keys: store.keys,
    store,
    logger,
    auditKey,
    commitOrigin: store.commitOrigin,
    outbound,
    jobs,
    outreach,
    async apply(plan: CommitPlan) {
      const committed = await store.commit(plan);
      if (acknowledge) await acknowledge(committed, plan, performance.now());
      return committed;
    },
    // `this`: a command attempt's view of the runtime fences its commits (commands/attempt.ts).
    acting(this: Signet, acting: Acting) {
      return actingContext((plan) => this.apply(plan), acting);
    },
  });
}

/**
 * The runtime of a run without a node (the CLI, a test or bench seeder): its commits reach live
 * sockets through the commit channel, which every node delivers from; nothing is queued here.
 */
export function standaloneSignet(config: Config, redis: Redis, logger: Logger): Signet {
  return createSignet({
    config,
    store: openStore(config, redis),
    logger,
    auditKey: deriveAuditSigningKey(config.masterKey),
    outbound: createOutboundClient({ allowedCidrs: config.outboundAllowedCidrs }),
    jobs: null,
    outreach: null,
    acknowledge: null,
  });
}
