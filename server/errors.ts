// The one error type of the protocol: a code from SPEC §7 and a message meant for the user.
import type { CommandError, ErrorCode, InputIssue } from '../src/lib/shared/commands.js';
import type { z } from 'zod';

export class CommandFailure extends Error {
  /** A denial whose audit entry was written already (the dispatcher must not write another). */
  audited = false;
  /** A CONFLICT because the entity changed between reading and writing it: retrying may succeed. */
  concurrentChange = false;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { issues?: InputIssue[]; current?: unknown; retryAfterMs?: number } = {},
  ) {
    super(message);
  }

  toJSON(): CommandError {
    return { code: this.code, message: this.message, ...this.extra };
  }
}

/** Re-runs `attempt` when what it read changed before it wrote (a CONFLICT marked concurrentChange), up to `tries` times. */
export async function retryOnConcurrentChange<T>(attempt: () => Promise<T>, tries = 3): Promise<T> {
  for (let tried = 1; ; tried++) {
    try {
      return await attempt();
    } catch (error) {
      const concurrent = error instanceof CommandFailure && error.concurrentChange;
      if (!concurrent || tried >= tries) throw error;
    }
  }
}

export const notFound = (what: string) => new CommandFailure('NOT_FOUND', `${what} was not found`);
export const forbidden = (message: string) => new CommandFailure('FORBIDDEN', message);
export const conflict = (message: string, current?: unknown) =>
  new CommandFailure('CONFLICT', message, current === undefined ? {} : { current });
/** RATE_LIMITED, saying when to try again (the socket ack's retryAfterMs, REST's Retry-After). */
export const rateLimited = (message: string, retryAfterMs: number) =>
  new CommandFailure('RATE_LIMITED', message, { retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)) });
export const invalid = (path: string, message: string) =>
  new CommandFailure('INVALID_INPUT', `${path}: ${message}`, { issues: [{ path, message }] });

/** Flattens zod issues, looking inside unions, so every issue names the field it is about. */
function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): InputIssue[] {
  return issues.flatMap((issue): InputIssue[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      return issue.errors.flatMap((branch) => flattenIssues(branch, path));
    }
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...path, key].join('.'), message: 'unknown field' }));
    }
    return [{ path: path.length ? path.map(String).join('.') : '(input)', message: issue.message }];
  });
}

export function invalidInput(error: z.ZodError): CommandFailure {
  const issues = flattenIssues(error.issues);
  const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  return new CommandFailure('INVALID_INPUT', `Invalid input — ${summary}`, { issues });
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** Parses input with its schema, or throws INVALID_INPUT naming every field that is wrong. */
export function parseOr400<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidInput(parsed.error);
  return parsed.data;
}
