// One attempt at running a command: its deadline, and its request id (SPEC §10; issue 13).
//
// Deadline. A command is answered within SIGNET_COMMAND_DEADLINE_MS whatever Redis does: one
// deadline for the whole command, not one per Redis call. A handler cannot be stopped half-way,
// so when the deadline passes it is fenced instead: a commit it has not sent yet is never sent.
// The answer therefore says what is known: nothing was changed (no commit had been sent), the
// command was applied entirely or not at all (a commit was on its way), or it was applied but has
// not finished (say, re-checking sockets on a paused node).
//
// Request id. A client may name an attempt with an id of its choosing, kept per actor and
// organization. The first attempt claims a key for it; every commit the command makes requires the
// claim to still be this attempt's and marks it committed in the same Lua call (so at most one
// attempt ever applies, whatever the timing of retries); once the command is answered its answer
// is stored over the claim, sealed under the master key (answers may hold secrets shown once, such
// as a new API key's token), for 24 hours. A retry with the same id gets that answer, marked
// `replayed`; while the first attempt still runs, the retry waits for it up to its own deadline.
import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import { RequestId, type CommandAck, type CommandError } from '../../src/lib/shared/commands.js';
import { principalScope, type Actor } from '../auth/actor.js';
import type { Signet } from '../signet.js';
import { PreconditionFailed, type CommitPlan, type Committed } from '../store/commit.js';
import { isRedisUnavailable, redisCallTimeoutMs } from '../store/redis.js';
import { openPrivateKey, sealPrivateKey, type SealedKey } from '../store/keyVault.js';
import { CommandFailure, invalid } from '../errors.js';

/** How long an answer stays available to a retry with the same request id. */
const ANSWER_TTL_MS = 24 * 3600_000;
/**
 * How long a claim lasts without a commit: 10 s longer than the Redis backstop timeout (15 s with
 * the default deadline), so a commit whose answer came late still finds its claim; a claim left by
 * a node that died lapses after it.
 */
const claimTtlMs = (commandDeadlineMs: number) => redisCallTimeoutMs(commandDeadlineMs) + 10_000;
/** How often a retry looks whether the attempt it waits for has finished. */
const WAIT_POLL_MS = 25;

const RESULT_LOST: CommandError = {
  code: 'CONFLICT',
  message: 'This command was applied, but its result was lost when the data store stopped answering; reload to see it',
};

/** What the request-id key holds: who claimed it (`a`), for which command and input (`f`), and how far it got. */
type StoredAttempt =
  | { s: 'running' | 'committed'; a: string; f: string }
  | { s: 'done'; a: string; f: string; ack: SealedKey };

interface Claim {
  key: string;
  /** The key's value as this attempt last wrote it: every commit requires it still to be so. */
  current: string;
  committed: string;
  attemptId: string;
  fingerprint: string;
}

export class CommandAttempt {
  readonly id = randomUUID();
  /** Set once the deadline has passed: no commit of this attempt is sent from then on. */
  expired = false;
  /** The client's request id, when it sent one. */
  requestId: string | null = null;
  claim: Claim | null = null;
  /** While this attempt waits for an earlier one with the same request id: how far that one got. */
  waitingFor: 'running' | 'committed' | null = null;
  private committing = 0;
  private applied = 0;
  /** A commit failed in a way that leaves open whether Redis applied it (a timeout, a lost connection). */
  inDoubt = false;

  constructor(readonly deadlineMs: number) {}

  /** `signet` as the command sees it: its commits are fenced by the deadline and carry the claim. */
  scope(signet: Signet): Signet {
    // (An own property over the frozen runtime; Object.create with a descriptor costs several times more.)
    return Object.setPrototypeOf({ apply: (plan: CommitPlan) => this.apply(signet, plan) }, signet) as Signet;
  }

  /** Answers with `work`, or with UNAVAILABLE once the deadline passes first (fencing the attempt). */
  within(work: Promise<CommandAck>): Promise<CommandAck> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.expired = true;
        resolve({ ok: false, error: this.unavailable(`did not finish within the command deadline (${this.deadlineMs} ms)`) });
      }, this.deadlineMs);
      void work.then((ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
  }

  /** UNAVAILABLE, saying what is known of the outcome; `what` says what went wrong. */
  unavailable(what: string): CommandError {
    const code = 'UNAVAILABLE' as const;
    if (this.waitingFor === 'running') {
      return { code, message: `The command ${what} while an earlier attempt with the same request id was still running; its outcome is not known yet. Retry with the same request id.` };
    }
    if (this.waitingFor === 'committed') {
      return { code, message: `The command ${what} while waiting for the answer of an earlier attempt with the same request id, which was applied. Retry with the same request id, or reload.` };
    }
    if (this.committing > 0 || this.inDoubt) {
      return { code, message: `The command ${what}: it was applied entirely or not at all. Retry with the same request id, or reload before retrying.` };
    }
    if (this.applied > 0) {
      return { code, message: `The command was applied but ${what}. Retry with the same request id for its result, or reload.` };
    }
    if (this.requestId && !this.claim) {
      return { code, message: `The command ${what}; this attempt changed nothing, but an earlier one with the same request id may have. Retry with the same request id.` };
    }
    return { code, message: `The command ${what}; nothing was changed. Try again shortly.` };
  }

  private async apply(signet: Signet, plan: CommitPlan): Promise<Committed> {
    if (this.expired) throw new CommandFailure('UNAVAILABLE', 'The command deadline passed before this change was written; nothing was changed');
    const claim = this.claim;
    const guard = claim && signet.store.commandAttempts.guard(claim.key, claim.current, claim.committed, ANSWER_TTL_MS);
    const guarded: CommitPlan = guard ? { ...plan, expect: [...(plan.expect ?? []), ...guard.expect], ops: [...(plan.ops ?? []), ...guard.ops] } : plan;
    this.committing++;
    try {
      const committed = await signet.apply(guarded);
      this.applied++;
      if (claim) claim.current = claim.committed;
      return committed;
    } catch (error) {
      // Only a lost answer leaves the outcome open: a refused script changed nothing.
      if (isRedisUnavailable(error)) this.inDoubt = true;
      else if (error instanceof PreconditionFailed && claim && error.precondition.key === claim.key) {
        // The claim lapsed before this commit reached Redis (paused longer than the claim lasts):
        // the commit was refused, and a retry may run the command afresh.
        throw new CommandFailure('CONFLICT', 'This attempt took too long and gave way to a retry with the same request id; nothing was changed by it');
      }
      throw error;
    } finally {
      this.committing--;
    }
  }

  /** Whether a commit of this attempt was (or may have been) applied. */
  get changedSomething(): boolean {
    return this.applied > 0 || this.inDoubt;
  }
}

/** `work`, or UNAVAILABLE (nothing was changed: for work that writes nothing) once `ms` have passed. */
export function withinDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommandFailure('UNAVAILABLE', `The data store did not answer within ${ms} ms; try again shortly`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** The request ids of one node: claiming, replaying and recording answers. */
export interface RequestIds {
  /**
   * Claims the request id for this attempt; returns the stored answer instead when an earlier
   * attempt finished (waiting for one still running, up to the deadline).
   */
  claim(attempt: CommandAttempt, actor: Actor, name: string, input: unknown, requestId: RequestIdOf): Promise<CommandAck | null>;
  /** Stores the attempt's answer (it changed something) or frees its claim (it changed nothing). */
  settle(attempt: CommandAttempt, ack: CommandAck): Promise<void>;
}

/** A request id, and how its transport names it in errors (`options.requestId`, `Idempotency-Key`). */
export interface RequestIdOf {
  value: string;
  field: string;
}

/** Validates a request id as its transport names it. */
export function parseRequestId(value: unknown, field: string): RequestIdOf {
  const parsed = RequestId.safeParse(value);
  if (!parsed.success) throw invalid(field, parsed.error.issues[0]!.message);
  return { value: parsed.data, field };
}

export function createRequestIds(signet: Signet): RequestIds {
  const { config } = signet;
  const attempts = signet.store.commandAttempts;
  const claimTtl = claimTtlMs(config.SIGNET_COMMAND_DEADLINE_MS);
  // Inputs may hold secrets (a PKCS#12 password): only a keyed hash of them is stored.
  const fingerprintKey = Buffer.from(hkdfSync('sha256', config.masterKey, Buffer.alloc(0), 'signet-command-fingerprint', 32));
  const fingerprintOf = (name: string, input: unknown) =>
    createHmac('sha256', fingerprintKey).update(`${name}\n${JSON.stringify(input ?? {})}`).digest('base64url');
  const stored = (attempt: StoredAttempt) => JSON.stringify(attempt);
  const sealContext = (key: string) => `command-answer:${key}`;

  return {
    async claim(attempt, actor, name, input, requestId) {
      const key = attempts.keyOf(actor.orgId, principalScope(actor.principal), requestId.value);
      const fingerprint = fingerprintOf(name, input);
      const running = stored({ s: 'running', a: attempt.id, f: fingerprint });
      while (!attempt.expired) {
        if (await attempts.claim(key, running, claimTtl)) {
          attempt.waitingFor = null;
          attempt.claim = { key, current: running, committed: stored({ s: 'committed', a: attempt.id, f: fingerprint }), attemptId: attempt.id, fingerprint };
          return null;
        }
        const raw = await attempts.read(key);
        if (raw === null) continue; // freed meanwhile: claim it
        const earlier = JSON.parse(raw) as StoredAttempt;
        if (earlier.f !== fingerprint) throw invalid(requestId.field, 'was already used for another command or other input');
        if (earlier.s === 'done') {
          const ack = JSON.parse(openPrivateKey(config.masterKey, earlier.ack, sealContext(key)).toString('utf8')) as CommandAck;
          return { ...ack, replayed: true };
        }
        attempt.waitingFor = earlier.s;
        await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      }
      throw new CommandFailure('UNAVAILABLE', 'The command deadline passed while waiting for an earlier attempt');
    },

    async settle(attempt, ack) {
      const claim = attempt.claim;
      if (!claim) return;
      if (attempt.changedSomething) {
        // A commit whose answer was lost: if the key says it applied, say so to every retry (the
        // result itself is gone). Redis runs this after that commit (one connection, in order), so
        // the key tells; if it never applied, the claim lapses and a retry runs the command afresh.
        const answer: CommandAck = attempt.inDoubt ? { ok: false, error: RESULT_LOST } : ack;
        const sealed = sealPrivateKey(config.masterKey, Buffer.from(JSON.stringify(answer)), sealContext(claim.key));
        const done = stored({ s: 'done', a: claim.attemptId, f: claim.fingerprint, ack: sealed });
        // Only over this attempt's own committed marker.
        await attempts.replace(claim.key, claim.committed, done, ANSWER_TTL_MS);
      } else {
        // Nothing changed: the id is free again, so a retry runs the command.
        await attempts.replace(claim.key, claim.current, '', 0);
      }
    },
  };
}
