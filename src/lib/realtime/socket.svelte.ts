// The one Socket.IO connection of the app. Features subscribe to its events; it keeps the sequence
// bookkeeping that makes reconnects lossless (resume from lastSeq) and, as a safety net (the server
// sends each event once, in order), duplicate-free (drop seqs already applied), and tells
// subscribers when their data must be reloaded.
import { io, type Socket } from 'socket.io-client';
import type { CommandAck, CommandInput, CommandName, CommandOptions, CommandResult, ErrorCode } from '$lib/shared/commands';
import type { ClientToServerEvents, HandshakeAuth, ReadyEvent, ServerToClientEvents } from '$lib/shared/events';
import { ProtocolError, unwrap } from '$lib/protocol';
import { SERVER_DISCONNECT_RETRY_MS, SOCKET_OPTIONS } from './connection';

export type SignetSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
/** Opens the socket, with the handshake's `auth` as a function (asked again on every reconnect). */
export type OpenSocket = (auth: (send: (auth: HandshakeAuth) => void) => void) => SignetSocket;
type EventName = keyof ServerToClientEvents;
type Payload<E extends EventName> = Parameters<ServerToClientEvents[E]>[0];
type Handler<E extends EventName> = (payload: Payload<E>) => void;
type SequencedEvent = 'change' | 'audit' | 'notification';

export type ConnectionState =
  | 'idle' // not asked to connect
  | 'connecting' // first connection to this organization
  | 'connected'
  | 'reconnecting' // lost the connection; retrying by itself
  | 'refused' // the server turned the handshake down (signed out, not a member, …)
  | 'revoked'; // the server ended the session

export interface ConnectionProblem {
  code: ErrorCode | string;
  message: string;
}

const COMMAND_TIMEOUT_MS = 15_000;
/** Before retrying a command that got UNAVAILABLE; then up to RETRY_WAIT_MS for the connection to be back. */
const RETRY_DELAY_MS = 500;
const RETRY_WAIT_MS = 15_000;
/** How many recent seqs to remember for de-duplication (a safety net: the server sends each once). */
const SEEN_LIMIT = 2_000;

/** The console's socket: no URL, so it reaches the page's own origin (see connection.ts). */
const openConsoleSocket: OpenSocket = (auth) => io({ ...SOCKET_OPTIONS, auth });

export class RealtimeClient {
  state = $state<ConnectionState>('idle');
  problem = $state<ConnectionProblem | null>(null);
  /** The highest event sequence number seen for the current organization. */
  lastSeq = $state<number | null>(null);
  org = $state<string | null>(null);

  #socket: SignetSocket | null = null;
  #seen = new Set<number>();
  #synced = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #handlers = new Map<EventName, Set<Handler<never>>>();
  #resyncHandlers = new Set<() => void>();
  #endHandlers = new Set<(problem: ConnectionProblem) => void>();
  readonly #open: OpenSocket;

  /** `open`: how the socket is opened; a test opens one to a server on loopback. */
  constructor(open: OpenSocket = openConsoleSocket) {
    this.#open = open;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Connects to one organization (a new one resets the sequence bookkeeping). */
  connect(org: string): void {
    if (this.#socket && this.org === org && this.state !== 'refused' && this.state !== 'revoked') return;
    this.disconnect();
    this.org = org;
    this.lastSeq = null;
    this.#seen.clear();
    this.#synced = false;
    this.problem = null;
    this.state = 'connecting';

    // A function, so every reconnect sends the lastSeq of that moment.
    const socket = this.#open((send) => send(this.#handshake(org)));
    this.#socket = socket;

    socket.on('connect', () => {
      this.state = 'connected';
      this.problem = null;
    });
    socket.on('disconnect', (reason) => {
      if (this.#socket !== socket || this.state === 'revoked') return;
      if (reason === 'io client disconnect') return;
      this.state = 'reconnecting';
      // The server closed this socket without revoking it (e.g. set-up failed): try again ourselves.
      if (reason === 'io server disconnect') {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => socket.connect(), SERVER_DISCONNECT_RETRY_MS);
      }
    });
    socket.on('connect_error', (error) => {
      if (this.#socket !== socket) return;
      const data = (error as Error & { data?: { code?: string; retryAfterMs?: number } }).data;
      const code = data?.code ?? 'UNAVAILABLE';
      this.problem = { code, message: error.message };
      // socket.active is false when the server refused the handshake: no automatic retry then.
      if (socket.active) {
        this.state = 'reconnecting';
        return;
      }
      // Refused for a while only: the data store is away, or this account is over its rate limit
      // (the server says how long); try again ourselves.
      const retryAfterMs = code === 'UNAVAILABLE' ? SERVER_DISCONNECT_RETRY_MS : code === 'RATE_LIMITED' ? data?.retryAfterMs : undefined;
      if (retryAfterMs !== undefined) {
        this.state = 'reconnecting';
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => socket.connect(), Math.max(SERVER_DISCONNECT_RETRY_MS, retryAfterMs));
        return;
      }
      this.state = 'refused';
      this.#end(this.problem);
    });

    socket.on('ready', (ready) => this.#onReady(ready));
    socket.on('revoked', ({ reason }) => {
      this.state = 'revoked';
      this.problem = { code: 'UNAUTHENTICATED', message: reason };
      this.#end(this.problem);
    });
    socket.on('presence', (event) => this.#emit('presence', event));
    socket.on('change', (event) => this.#deliver('change', event));
    socket.on('audit', (event) => this.#deliver('audit', event));
    socket.on('notification', (event) => this.#deliver('notification', event));
  }

  disconnect(): void {
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#socket = null;
    socket?.removeAllListeners();
    socket?.disconnect();
    this.state = 'idle';
  }

  /** Subscribes to a server event; sequenced events arrive once each. Returns the unsubscriber. */
  on<E extends EventName>(event: E, handler: Handler<E>): () => void {
    let handlers = this.#handlers.get(event);
    if (!handlers) this.#handlers.set(event, (handlers = new Set()));
    handlers.add(handler as Handler<never>);
    return () => handlers.delete(handler as Handler<never>);
  }

  /** Called when data must be (re)loaded: on the first `ready`, and when a resume was impossible. */
  onResync(handler: () => void): () => void {
    this.#resyncHandlers.add(handler);
    return () => this.#resyncHandlers.delete(handler);
  }

  /** Called when the server refuses or ends the connection for good. */
  onEnd(handler: (problem: ConnectionProblem) => void): () => void {
    this.#endHandlers.add(handler);
    return () => this.#endHandlers.delete(handler);
  }

  /**
   * Runs a command. One that changes something carries a request id of its own, and after
   * UNAVAILABLE (the server could not say whether it was applied, the connection dropped, or the
   * node was shutting down) it is sent once more with the same id, when connected again: the
   * server applies it at most once and answers a retry with the first attempt's result.
   */
  async command<N extends CommandName>(name: N, input: CommandInput<N>): Promise<CommandResult<N>> {
    const options: CommandOptions | undefined = commandOnlyReads(name) ? undefined : { requestId: newRequestId() };
    try {
      return await this.#send(name, input, options);
    } catch (error) {
      if (!options || !(error instanceof ProtocolError) || error.code !== 'UNAVAILABLE') throw error;
      if (!(await this.#reconnected(RETRY_WAIT_MS))) throw error;
      return this.#send(name, input, options);
    }
  }

  #send<N extends CommandName>(name: N, input: CommandInput<N>, options: CommandOptions | undefined): Promise<CommandResult<N>> {
    const socket = this.#socket;
    if (!socket?.connected) {
      return Promise.reject(
        new ProtocolError({ code: 'UNAVAILABLE', message: 'Not connected to the server; try again when the connection is back' }),
      );
    }
    return new Promise((resolve, reject) => {
      const answered = (timedOut: Error | null, ack: CommandAck) => {
        if (timedOut) {
          reject(new ProtocolError({ code: 'UNAVAILABLE', message: `The server did not answer ${name} in time` }));
          return;
        }
        try {
          resolve(unwrap(ack) as CommandResult<N>);
        } catch (error) {
          reject(error);
        }
      };
      const timed = socket.timeout(COMMAND_TIMEOUT_MS);
      if (options) timed.emit('command', name, input, options, answered);
      else timed.emit('command', name, input, answered);
    });
  }

  /** Waits a moment, then until the socket is connected (to this node or, after a failover, another); false after `ms`. */
  async #reconnected(ms: number): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    const socket = this.#socket;
    if (!socket) return false;
    if (socket.connected) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        socket.off('connect', onConnect);
        resolve(false);
      }, ms);
      const onConnect = () => {
        clearTimeout(timer);
        resolve(this.#socket === socket);
      };
      socket.once('connect', onConnect);
    });
  }

  #handshake(org: string): HandshakeAuth {
    return this.lastSeq === null ? { org } : { org, lastSeq: this.lastSeq };
  }

  #onReady(ready: ReadyEvent): void {
    this.#advance(ready.seq);
    const mustReload = !this.#synced || !ready.resumed;
    this.#synced = true;
    this.#emit('ready', ready);
    if (mustReload) for (const handler of this.#resyncHandlers) handler();
  }

  #deliver<E extends SequencedEvent>(event: E, payload: Payload<E>): void {
    const { seq } = payload;
    if (this.#seen.has(seq)) return;
    this.#seen.add(seq);
    if (this.#seen.size > SEEN_LIMIT) {
      // A Set iterates in insertion order: drop the oldest.
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    this.#advance(seq);
    this.#emit(event, payload);
  }

  #advance(seq: number): void {
    if (this.lastSeq === null || seq > this.lastSeq) this.lastSeq = seq;
  }

  #emit<E extends EventName>(event: E, payload: Payload<E>): void {
    for (const handler of this.#handlers.get(event) ?? []) {
      try {
        (handler as Handler<E>)(payload);
      } catch (error) {
        console.error(`signet: a ${event} handler failed`, error);
      }
    }
  }

  #end(problem: ConnectionProblem): void {
    for (const handler of this.#endHandlers) handler(problem);
  }
}

/** Commands that only read: sent without a request id (repeating them changes nothing). */
function commandOnlyReads(name: CommandName): boolean {
  return /\.(list|get|query|verify)$/.test(name) || name === 'presence.update';
}

/** A request id for one command: random, from crypto.getRandomValues (randomUUID needs a secure context). */
function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export const realtime = new RealtimeClient();

/** Runs a command over the socket: resolves with its result, or rejects with a ProtocolError. */
export function command<N extends CommandName>(name: N, input: CommandInput<N>): Promise<CommandResult<N>> {
  return realtime.command(name, input);
}
