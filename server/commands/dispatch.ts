// Runs a command for a principal, whichever transport it came over (Socket.IO or REST): look up
// the declaration, rate-limit (before anything costly: bursts and an actor over its budget are
// refused from this node's memory), take a place among the actor's commands in flight, load the actor fresh,
// check the permission (a denial is audited), validate the input (invalid input changes nothing),
// run the handler, and turn every failure into the protocol's error envelope — all within one
// deadline per command, whatever Redis does. A command may carry a client-chosen request id: a retry
// with it gets the original answer instead of a second application.
import { CommandOptions, type CommandAck, type CommandError } from '../../src/lib/shared/commands.js';
import { actorFromRecords, type Actor, type Principal } from '../auth/actor.js';
import type { AuditSource } from '../audit/entries.js';
import { auditDenial } from '../audit/denial.js';
import { isRedisUnavailable } from '../store/redis.js';
import type { Signet } from '../signet.js';
import { COMMANDS_BY_NAME } from './registry.js';
import { createCommandContext, type AnyCommand, type NodeServices } from './define.js';
import { CommandFailure, invalid, invalidInput, rateLimited } from '../errors.js';
import { budgetKey } from '../store/rateLimit.js';
import { CommandAttempt, createRequestIds, parseRequestId, type RequestIdOf } from './attempt.js';
import type { Metrics } from '../metrics.js';

/**
 * Commands of one actor that run at once on a node; more wait their turn, up to a queue of
 * QUEUED_PER_ACTOR, and past that are refused. One actor's burst then holds at most this many
 * commands' Redis calls ahead of anybody else's, and the console (a few commands at a time) never
 * meets the bound.
 */
export const IN_FLIGHT_PER_ACTOR = 4;
export const QUEUED_PER_ACTOR = 100;

export interface Dispatcher {
  /**
   * Counts one action of this principal against its rate limit and loads its actor as it is now, in
   * one Redis call (as a command does); throws RATE_LIMITED past the limit. The first refusal of a
   * window (on any node) is audited once, as `action` from `source`; the others are not, so a flood
   * cannot fill the audit log.
   */
  countAndLoad(principal: Principal, action: string, source: AuditSource): Promise<Actor>;
  /**
   * Runs a command; answers within the command deadline whatever Redis does. `principal` may be
   * how to authenticate it (REST authenticates each request), so that counts against the deadline
   * too. `connected`: whether whoever sent the command still waits for its answer (a socket); a
   * command still waiting for its place when its socket closed is dropped, never run.
   */
  run(
    principal: Principal | (() => Promise<Principal>),
    name: unknown,
    input: unknown,
    source: AuditSource,
    socketId?: string,
    envelope?: CommandEnvelope,
    connected?: () => boolean,
  ): Promise<CommandAck>;
  /** The node is shutting down: from now on every new command is refused, changing nothing. */
  stopAccepting(): void;
  /** Commands running now (their bookkeeping after the answer included). */
  readonly inFlight: number;
  /** Resolves once no command is running. */
  idle(): Promise<void>;
}

/** A command's envelope as its transport received it: `{ requestId }` (CommandOptions). */
export interface CommandEnvelope {
  options: unknown;
  /** How the transport names the request id in errors: `options.requestId`, or REST's `Idempotency-Key`. */
  requestIdField: string;
}

export const SHUTTING_DOWN: CommandError = {
  code: 'UNAVAILABLE',
  message: 'This node is shutting down; nothing was changed. Try again: another node will answer.',
};

export function createDispatcher(signet: Signet, node: NodeServices, metrics: Metrics): Dispatcher {
  const budgets = signet.store.rateLimits.actorBudgets(signet.config.SIGNET_RATE_LIMIT_PER_MINUTE, signet.config.rateLimitBurst);
  const { points } = budgets;

  // An API key's last-used time, written at most every 10 s per key and node (it is not audited:
  // using a key changes nothing of record).
  const keyTouchedAt = new Map<string, number>();
  function touchApiKey(keyId: string): void {
    const now = Date.now();
    if (now - (keyTouchedAt.get(keyId) ?? 0) < 10_000) return;
    keyTouchedAt.set(keyId, now);
    signet.store.apiKeys.touch(keyId, new Date(now)).catch(() => keyTouchedAt.delete(keyId));
  }

  /**
   * Counts one action in Redis, shared by all nodes, and loads the actor from the records read in
   * the same call; throws RATE_LIMITED past the budget (the action that crossed it audited, once
   * per window on any node, naming the actor those records show).
   */
  async function countShared(principal: Principal, action: string, source: AuditSource): Promise<Actor> {
    const counted = await budgets.count(budgetKey(principal), signet.store.actorRecords.keysOf(principal));
    if (!counted.refusal) return actorFromRecords(principal, counted.records);
    if (counted.crossed) await auditLimited(principal, counted.records, action, source);
    throw counted.refusal;
  }

  async function countAndLoad(principal: Principal, action: string, source: AuditSource): Promise<Actor> {
    budgets.refuseFromMemory(budgetKey(principal));
    return countShared(principal, action, source);
  }

  /** The one audit entry of an actor's window over the limit (not one per refused command). */
  async function auditLimited(principal: Principal, records: Array<string | null>, action: string, source: AuditSource): Promise<void> {
    try {
      const actor = actorFromRecords(principal, records);
      const reason = `over the rate limit of ${points} commands a minute; the rest of this minute's commands are refused without an entry each`;
      await auditDenial(signet, actor, action, reason, source);
    } catch (error) {
      // A principal that lost access meanwhile is refused anyway; there is nobody to name.
      signet.logger.debug({ err: error }, 'rate-limit entry not written');
    }
  }

  // Each actor's commands in flight on this node, and those waiting for a place.
  const lanes = new Map<string, { running: number; waiting: Array<() => void> }>();
  async function inActorLane<T>(key: string, work: () => Promise<T>): Promise<T> {
    let lane = lanes.get(key);
    if (!lane) lanes.set(key, (lane = { running: 0, waiting: [] }));
    if (lane.running < IN_FLIGHT_PER_ACTOR) lane.running += 1;
    else if (lane.waiting.length < QUEUED_PER_ACTOR) await new Promise<void>((resolve) => lane.waiting.push(resolve));
    else throw rateLimited(`Too many commands at once (${IN_FLIGHT_PER_ACTOR + QUEUED_PER_ACTOR}); wait for their answers`, 1000);
    try {
      return await work();
    } finally {
      const next = lane.waiting.shift();
      // The place passes to the next waiting command; the lane goes when nothing runs or waits.
      if (next) next();
      else if ((lane.running -= 1) === 0) lanes.delete(key);
    }
  }

  const requestIds = createRequestIds(signet);

  /** A command as sent: the principal, the name, the input and where it came from. */
  interface Sent {
    principal: Principal;
    name: unknown;
    input: unknown;
    source: AuditSource;
    socketId?: string;
    requestId?: RequestIdOf;
    connected?: () => boolean;
  }

  async function runUnsafe(attempt: CommandAttempt, sent: Sent): Promise<CommandAck> {
    const { principal, name } = sent;
    // Only a string names a command: anything else from the wire (an object whose toString is not a
    // function, an array nested too deep to print) must not be turned into one.
    if (typeof name !== 'string') throw invalid('name', 'the command name must be a string');
    const command = COMMANDS_BY_NAME.get(name);
    if (!command) throw new CommandFailure('NOT_FOUND', `Unknown command "${name.slice(0, 80)}"`);
    const key = budgetKey(principal);
    // Bursts and actors over budget are refused here, at no cost: no Redis call, no actor load,
    // no validation, handler or audit entry.
    budgets.refuseFromMemory(key);
    return inActorLane(key, async () => {
      // While it waited for its place: its socket closed (a flooding one is closed), or its actor was refused.
      if (sent.connected && !sent.connected()) throw new CommandFailure('UNAVAILABLE', 'The connection closed before the command ran; it was not run');
      budgets.refuseIfBlocked(key);
      // One call for the shared count and the actor as it is now. Only commands running when
      // Redis first refuses an actor (at most IN_FLIGHT_PER_ACTOR per node and window) read an
      // actor for nothing; the refusals after them come from memory.
      const actor = await countShared(principal, command.name, sent.source);
      if (sent.requestId) {
        const earlier = await requestIds.claim(attempt, actor, command.name, sent.input, sent.requestId);
        // A stored success (it may carry a secret shown once, a new key's token) goes only to an
        // actor who still holds the permission; one who lost it is refused as the command would be.
        if (earlier && (!earlier.ok || mayRun(command, actor))) return earlier;
      }
      return runCommand(attempt, command, actor, sent);
    });
  }

  const mayRun = (command: AnyCommand, actor: Actor) => !command.permission || actor.permissions.has(command.permission);

  async function runCommand(attempt: CommandAttempt, command: AnyCommand, actor: Actor, sent: Sent): Promise<CommandAck> {
    const { principal } = actor;
    if (principal.kind === 'apiKey') touchApiKey(principal.keyId);
    // Every commit of the command goes through the attempt: fenced by its deadline, carrying its claim.
    const scoped = attempt.scope(signet);

    if (!mayRun(command, actor)) {
      const reason = `${command.name} needs the ${command.permission} permission, which ${describe(actor)} does not have`;
      await auditDenial(scoped, actor, command.name, reason, sent.source);
      throw new CommandFailure('FORBIDDEN', reason);
    }

    const parsed = command.input.safeParse(sent.input ?? {});
    if (!parsed.success) throw invalidInput(parsed.error);

    const context = createCommandContext(scoped, node, command.name, actor, sent.source, sent.socketId);
    try {
      return { ok: true, result: await command.handler(context, parsed.data as never) };
    } catch (error) {
      // Rules a handler enforces (owner protections, own role, key scopes) are denials too.
      if (error instanceof CommandFailure && error.code === 'FORBIDDEN' && !error.audited) {
        await auditDenial(scoped, actor, command.name, error.message, sent.source);
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
    countAndLoad,
    async run(principal, name, input, source, socketId, envelope, connected) {
      const startedAt = process.hrtime.bigint();
      const configured = signet.config.SIGNET_COMMAND_DEADLINE_MS;
      const attempt = new CommandAttempt(Math.max(configured, (typeof name === 'string' ? COMMANDS_BY_NAME.get(name)?.deadlineMs : undefined) ?? configured));
      const work = (async (): Promise<CommandAck> => {
        if (!accepting) return { ok: false, error: SHUTTING_DOWN };
        const requestId = envelope ? requestIdOf(envelope) : undefined;
        attempt.requestId = requestId?.value ?? null;
        const authenticated = typeof principal === 'function' ? await principal() : principal;
        return runUnsafe(attempt, { principal: authenticated, name, input, source, socketId, requestId, connected });
      })().catch(
        (error: unknown): CommandAck => ({ ok: false, error: toCommandError(signet, error, typeof name === 'string' ? name.slice(0, 80) : '(not a name)', attempt) }),
      );
      // With a request id, the answer is recorded for retries (or the claim freed) after it is given.
      const settled = attempt.requestId
        ? work.then((ack) =>
            requestIds.settle(attempt, ack).catch((error: unknown) => signet.logger.debug({ err: error }, "a command's answer was not recorded for retries")),
          )
        : work;
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
