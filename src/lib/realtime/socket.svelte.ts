// The one Socket.IO connection of the app. Features subscribe to its events; it keeps the sequence
// bookkeeping that makes reconnects lossless (resume from lastSeq) and duplicate-free (drop seqs
// already applied), and tells subscribers when their data must be reloaded.
import { io, type Socket } from 'socket.io-client';
import type { CommandInput, CommandName, ErrorCode } from '$lib/shared/commands';
import type { ClientToServerEvents, HandshakeAuth, ReadyEvent, ServerToClientEvents } from '$lib/shared/events';
import { ProtocolError, unwrap } from '$lib/protocol';
import type { CommandResult } from './results';
import { SERVER_DISCONNECT_RETRY_MS, SOCKET_OPTIONS } from './connection';

type SignetSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
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
/** How many recent seqs to remember for de-duplication: far more than a replay overlap can hold. */
const SEEN_LIMIT = 2_000;

class RealtimeClient {
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

    const socket: SignetSocket = io({
      ...SOCKET_OPTIONS,
      // A function, so every reconnect sends the lastSeq of that moment.
      auth: (send) => send(this.#handshake(org)),
    });
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
      const code = (error as Error & { data?: { code?: string } }).data?.code ?? 'UNAVAILABLE';
      this.problem = { code, message: error.message };
      // socket.active is false when the server refused the handshake: no automatic retry then,
      // except when it refused for a while only (its data store is away): try again ourselves.
      if (socket.active) {
        this.state = 'reconnecting';
        return;
      }
      if (code === 'UNAVAILABLE') {
        this.state = 'reconnecting';
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => socket.connect(), SERVER_DISCONNECT_RETRY_MS);
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

  command<N extends CommandName>(name: N, input: CommandInput<N>): Promise<CommandResult<N>> {
    const socket = this.#socket;
    if (!socket?.connected) {
      return Promise.reject(
        new ProtocolError({ code: 'UNAVAILABLE', message: 'Not connected to the server; try again when the connection is back' }),
      );
    }
    return new Promise((resolve, reject) => {
      socket.timeout(COMMAND_TIMEOUT_MS).emit('command', name, input, (timedOut, ack) => {
        if (timedOut) {
          reject(new ProtocolError({ code: 'UNAVAILABLE', message: `The server did not answer ${name} in time` }));
          return;
        }
        try {
          resolve(unwrap(ack) as CommandResult<N>);
        } catch (error) {
          reject(error);
        }
      });
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

export const realtime = new RealtimeClient();

/** Runs a command over the socket: resolves with its result, or rejects with a ProtocolError. */
export function command<N extends CommandName>(name: N, input: CommandInput<N>): Promise<CommandResult<N>> {
  return realtime.command(name, input);
}
