// The protocol's error envelope as an Error, and the REST calls the browser makes before it has a
// socket (setup, sign-in, invitations, session). Commands go over the socket: see realtime/.
import type { CommandAck, CommandError, ErrorCode, InputIssue } from '$lib/shared/commands';

export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly issues: InputIssue[];
  /** With CONFLICT on a stale update: the entity as it is now. */
  readonly current: unknown;

  constructor(error: CommandError) {
    super(error.message);
    this.name = 'ProtocolError';
    this.code = error.code;
    this.issues = error.issues ?? [];
    this.current = error.current;
  }

  /** The message for one input field, if the server named it. */
  issueFor(path: string): string | undefined {
    return this.issues.find((issue) => issue.path === path)?.message;
  }
}

/** Any thrown value as a ProtocolError, so a page has one kind of error to show. */
export function asProtocolError(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ProtocolError({ code: 'UNAVAILABLE', message: `Could not reach the server (${message})` });
}

export function unwrap<R>(ack: CommandAck<R>): R {
  if (ack.ok) return ack.result;
  throw new ProtocolError(ack.error);
}

async function request<R>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<R> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw asProtocolError(error);
  }
  let ack: CommandAck<R>;
  try {
    ack = (await response.json()) as CommandAck<R>;
  } catch {
    throw new ProtocolError({ code: 'INTERNAL', message: `Unexpected response from the server (HTTP ${response.status})` });
  }
  return unwrap(ack);
}

export const getJson = <R>(path: string) => request<R>('GET', path);
export const postJson = <R>(path: string, body: unknown = {}) => request<R>('POST', path, body);
