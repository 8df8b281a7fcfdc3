// Runs a command for a principal, whichever transport it came over (Socket.IO or REST):
// look up the declaration, load the actor fresh, rate-limit, check the permission (a denial is
// audited), validate the input (invalid input changes nothing), run the handler, and turn every
// failure into the protocol's error envelope.
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { CommandAck } from '../../src/lib/shared/commands.js';
import { loadActor, type Actor, type Principal } from '../auth/actor.js';
import type { AuditSource } from '../audit/entries.js';
import { auditDenial } from '../audit/denial.js';
import { isRedisUnavailable } from '../store/redis.js';
import type { Signet } from '../signet.js';
import { COMMANDS_BY_NAME } from './registry.js';
import { createCommandContext } from './define.js';
import { CommandFailure, invalid, invalidInput } from './errors.js';
import type { Metrics } from '../metrics.js';

const TOUCH_KEY_LUA = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SET', KEYS[2], ARGV[1]) end return 1";

export interface Dispatcher {
  /** Counts one action of this principal against its rate limit; throws RATE_LIMITED past it. */
  rateLimit(principal: Principal): Promise<void>;
  run(principal: Principal, name: unknown, input: unknown, source: AuditSource, socketId?: string): Promise<CommandAck>;
}

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

  async function runUnsafe(principal: Principal, name: unknown, input: unknown, source: AuditSource, socketId?: string) {
    // Only a string names a command: anything else from the wire (an object whose toString is not a
    // function, an array nested too deep to print) must not be turned into one.
    if (typeof name !== 'string') throw invalid('name', 'the command name must be a string');
    const command = COMMANDS_BY_NAME.get(name);
    if (!command) throw new CommandFailure('NOT_FOUND', `Unknown command "${name.slice(0, 80)}"`);
    // One round trip for both (auto-pipelined): the actor as it is now, and its rate-limit budget.
    const [actor] = await Promise.all([loadActor(signet.redis, signet.keys, principal), rateLimit(principal)]);
    if (principal.kind === 'apiKey') touchApiKey(principal.keyId);

    if (command.permission && !actor.permissions.has(command.permission)) {
      const reason = `${command.name} needs the ${command.permission} permission, which ${describe(actor)} does not have`;
      await auditDenial(signet, actor, command.name, reason, source);
      throw new CommandFailure('FORBIDDEN', reason);
    }

    const parsed = command.input.safeParse(input ?? {});
    if (!parsed.success) throw invalidInput(parsed.error);

    const context = createCommandContext(signet, command.name, actor, source, socketId);
    try {
      return await command.handler(context, parsed.data as never);
    } catch (error) {
      // Rules a handler enforces (owner protections, own role, key scopes) are denials too.
      if (error instanceof CommandFailure && error.code === 'FORBIDDEN' && !error.audited) {
        await auditDenial(signet, actor, command.name, error.message, source);
      }
      throw error;
    }
  }

  return {
    rateLimit,
    async run(principal, name, input, source, socketId) {
      const startedAt = process.hrtime.bigint();
      let ack: CommandAck;
      try {
        ack = { ok: true, result: await runUnsafe(principal, name, input, source, socketId) };
      } catch (error) {
        ack = { ok: false, error: toCommandError(signet, error, typeof name === 'string' ? name.slice(0, 80) : '(not a name)') };
      }
      const label = typeof name === 'string' && COMMANDS_BY_NAME.has(name) ? name : 'unknown';
      metrics.commands.inc({ command: label, outcome: ack.ok ? 'ok' : ack.error.code });
      metrics.commandSeconds.observe({ command: label }, Number(process.hrtime.bigint() - startedAt) / 1e9);
      return ack;
    },
  };
}

function describe(actor: Actor): string {
  if (actor.type === 'apiKey' || actor.type === 'ciUser') return `this API key (for a ${actor.role})`;
  return `a ${actor.role === 'analyst' ? 'member' : actor.role}`;
}

export function toCommandError(signet: Signet, error: unknown, name: string) {
  if (error instanceof CommandFailure) return error.toJSON();
  if (isRedisUnavailable(error)) {
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
