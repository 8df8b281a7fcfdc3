// Runs a command for a principal, whichever transport it came over (Socket.IO or REST):
// look up the declaration, load the actor fresh, rate-limit, check the permission (a denial is
// audited), validate the input (invalid input changes nothing), run the handler, and turn every
// failure into the protocol's error envelope.
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { CommandOptions, type CommandAck, type CommandError } from '../../src/lib/shared/commands.js';
import { loadActor, type Actor, type Principal } from '../auth/actor.js';
import type { AuditSource } from '../audit/entries.js';
import { auditDenial } from '../audit/denial.js';
import { isRedisUnavailable } from '../store/redis.js';
import type { Signet } from '../signet.js';
import { COMMANDS_BY_NAME } from './registry.js';
import { createCommandContext } from './define.js';
import { CommandFailure, invalid, invalidInput } from './errors.js';
import { CommandAttempt, createRequestIds, parseRequestId, type RequestIdOf } from './attempt.js';
import type { Metrics } from '../metrics.js';

const TOUCH_KEY_LUA = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SET', KEYS[2], ARGV[1]) end return 1";

/** A command's envelope as its transport received it: `{ requestId }` (CommandOptions). */
export interface CommandEnvelope {
  options: unknown;
  /** How the transport names the request id in errors: `options.requestId`, or REST's `Idempotency-Key`. */
  requestIdField: string;
}

export interface Dispatcher {
  /** Counts one action of this principal against its rate limit; throws RATE_LIMITED past it. */
  rateLimit(principal: Principal): Promise<void>;
  /**
   * Runs a command; answers within the command deadline whatever Redis does. `principal` may be
   * how to authenticate it (REST authenticates each request), so that counts against the deadline too.
   */
  run(principal: Principal | (() => Promise<Principal>), name: unknown, input: unknown, source: AuditSource, socketId?: string, envelope?: CommandEnvelope): Promise<CommandAck>;
  /** The node is shutting down: from now on every new command is refused, changing nothing. */
  stopAccepting(): void;
  /** Commands running now (their bookkeeping after the answer included). */
  readonly inFlight: number;
  /** Resolves once no command is running. */
  idle(): Promise<void>;
}

export const SHUTTING_DOWN: CommandError = {
  code: 'UNAVAILABLE',
  message: 'This node is shutting down; nothing was changed. Try again: another node will answer.',
};

export function createDispatcher(signet: Signet, metrics: Metrics): Dispatcher {
  const limiter = new RateLimiterRedis({
    storeClient: signet.redis,
    keyPrefix: signet.keys.rateLimit,
    points: signet.config.SIGNET_RATE_LIMIT_PER_MINUTE,
    duration: 60,
    rejectIfRedisNotReady: true,
  });

  // An API key's last-used time, written at most every 10 s per key and node (it is not audited:
  // using a key changes nothing of record).
  const keyTouchedAt = new Map<string, number>();
  function touchApiKey(keyId: string): void {
    const now = Date.now();
    if (now - (keyTouchedAt.get(keyId) ?? 0) < 10_000) return;
    keyTouchedAt.set(keyId, now);
    // Only while the key exists, so a touch racing a revocation leaves nothing behind.
    signet.redis
      .eval(TOUCH_KEY_LUA, 2, signet.keys.apiKey(keyId), signet.keys.apiKeyLastUsed(keyId), new Date(now).toISOString())
      .catch(() => keyTouchedAt.delete(keyId));
  }

  async function rateLimit(principal: Principal): Promise<void> {
    const actorKey = principal.kind === 'apiKey' ? `key:${principal.keyId}` : `user:${principal.userId}`;
    try {
      await limiter.consume(actorKey);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        const seconds = Math.ceil(rejection.msBeforeNext / 1000);
        throw new CommandFailure('RATE_LIMITED', `Too many commands; try again in ${seconds} s`);
      }
      throw rejection;
    }
  }

  const requestIds = createRequestIds(signet);

  async function runUnsafe(
    attempt: CommandAttempt,
    principal: Principal,
    name: unknown,
    input: unknown,
    source: AuditSource,
    socketId: string | undefined,
    requestId: RequestIdOf | undefined,
  ): Promise<CommandAck> {
    const command = typeof name === 'string' ? COMMANDS_BY_NAME.get(name) : undefined;
    if (!command) throw new CommandFailure('NOT_FOUND', `Unknown command "${String(name).slice(0, 80)}"`);
    // One round trip for both (auto-pipelined): the actor as it is now, and its rate-limit budget.
    const [actor] = await Promise.all([loadActor(signet.redis, signet.keys, principal), rateLimit(principal)]);
    if (principal.kind === 'apiKey') touchApiKey(principal.keyId);
    if (requestId) {
      const earlier = await requestIds.claim(attempt, actor, command.name, input, requestId);
      if (earlier) return earlier;
    }
    // Every commit of the command goes through the attempt: fenced by its deadline, carrying its claim.
    const scoped = attempt.scope(signet);

    if (command.permission && !actor.permissions.has(command.permission)) {
      const reason = `${command.name} needs the ${command.permission} permission, which ${describe(actor)} does not have`;
      await auditDenial(scoped, actor, command.name, reason, source);
      throw new CommandFailure('FORBIDDEN', reason);
    }

    const parsed = command.input.safeParse(input ?? {});
    if (!parsed.success) throw invalidInput(parsed.error);

    const context = createCommandContext(scoped, command.name, actor, source, socketId);
    try {
      return { ok: true, result: await command.handler(context, parsed.data as never) };
    } catch (error) {
      // Rules a handler enforces (owner protections, own role, key scopes) are denials too.
      if (error instanceof CommandFailure && error.code === 'FORBIDDEN' && !error.audited) {
        await auditDenial(scoped, actor, command.name, error.message, source);
      }
      throw error;
    }
  }

  // Commands running, with what follows their answer (recording it for retries).
  const running = new Set<Promise<unknown>>();
  let accepting = true;
  const track = (work: Promise<unknown>) => {
    running.add(work);
    void work.finally(() => running.delete(work));
  };

  return {
    rateLimit,
    async run(principal, name, input, source, socketId, envelope) {
      const startedAt = process.hrtime.bigint();
      const attempt = new CommandAttempt(signet.config.SIGNET_COMMAND_DEADLINE_MS);
      const work = (async (): Promise<CommandAck> => {
        if (!accepting) return { ok: false, error: SHUTTING_DOWN };
        const requestId = envelope ? requestIdOf(envelope) : undefined;
        attempt.requestId = requestId?.value ?? null;
        const authenticated = typeof principal === 'function' ? await principal() : principal;
        return runUnsafe(attempt, authenticated, name, input, source, socketId, requestId);
      })().catch((error: unknown): CommandAck => ({ ok: false, error: toCommandError(signet, error, String(name), attempt) }));
      const settled = work.then((ack) =>
        requestIds.settle(attempt, ack).catch((error: unknown) => signet.logger.debug({ err: error }, 'a command\'s answer was not recorded for retries')),
      );
      track(settled);
      metrics.commandsInFlight.inc();
      const ack = await attempt.within(work);
      metrics.commandsInFlight.dec();
      const label = typeof name === 'string' && COMMANDS_BY_NAME.has(name) ? name : 'unknown';
      metrics.commands.inc({ command: label, outcome: ack.ok ? 'ok' : ack.error.code });
      metrics.commandSeconds.observe({ command: label }, Number(process.hrtime.bigint() - startedAt) / 1e9);
      return ack;
    },
    stopAccepting() {
      accepting = false;
    },
    get inFlight() {
      return running.size;
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

/** The request id of a command's envelope, validated (absent: none). */
function requestIdOf(envelope: CommandEnvelope): RequestIdOf | undefined {
  if (envelope.options === undefined) return undefined;
  const parsed = CommandOptions.safeParse(envelope.options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.path[0] === 'requestId') parseRequestId((envelope.options as { requestId?: unknown }).requestId, envelope.requestIdField);
    throw invalid('options', `${issue.message} (the options of a command are { requestId })`);
  }
  return parsed.data.requestId === undefined ? undefined : { value: parsed.data.requestId, field: envelope.requestIdField };
}

function describe(actor: Actor): string {
  if (actor.type === 'apiKey' || actor.type === 'ciUser') return `this API key (for a ${actor.role})`;
  return `a ${actor.role === 'analyst' ? 'member' : actor.role}`;
}

export function toCommandError(signet: Signet, error: unknown, name: string, attempt?: CommandAttempt): CommandError {
  if (error instanceof CommandFailure) return error.toJSON();
  if (isRedisUnavailable(error)) {
    // A command's attempt knows whether one of its commits was (or may have been) applied.
    if (attempt) return attempt.unavailable('could not reach the data store');
    // A timed-out write may still be applied (whole, never in part) when Redis wakes up; a refused
    // connection means nothing was sent at all.
    const timedOut = error instanceof Error && /timed out/i.test(error.message);
    return {
      code: 'UNAVAILABLE' as const,
      message: timedOut
        ? 'The data store did not answer in time; the command was applied entirely or not at all. Reload before retrying.'
        : 'The data store is unavailable; nothing was changed. Try again shortly.',
    };
  }
  signet.logger.error({ err: error, command: name }, 'command failed');
  return { code: 'INTERNAL' as const, message: 'Internal error; it has been logged' };
}
