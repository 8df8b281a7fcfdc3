// A client that connects and reconnects the way the console does (src/lib/realtime: its socket
// options, a handshake that sends the highest seq seen at that moment, its retries after a server
// disconnect or a refusal while the data store is away), for failover tests run in Node. It keeps
// what arrived on the wire as it arrived (no de-duplication), so a test can compare it with the
// organization's event stream; and it runs commands continuously, counting acknowledgements.
import { io, type Socket } from 'socket.io-client';
import { SERVER_DISCONNECT_RETRY_MS, SOCKET_OPTIONS } from '../../src/lib/realtime/connection.js';
import type { ClientToServerEvents, HandshakeAuth, PresenceEvent, ReadyEvent, ServerToClientEvents } from '../../src/lib/shared/events.js';
import { randomUUID } from 'node:crypto';
import type { CommandError } from '../../src/lib/shared/commands.js';
import { ORIGIN } from './signet.js';

/** As long as the console waits for an acknowledgement. */
/** Between a retried command's attempts. */
const RETRY_PAUSE_MS = 200;
const COMMAND_TIMEOUT_MS = 15_000;

export type CommandOutcome = { ok: true; result: any } | { ok: false; error: CommandError } | { ok: false; error: { code: 'NO_ANSWER'; message: string } };

export interface ConsoleClient {
  name: string;
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  /** Sequence numbers of change, audit and notification events, in the order they arrived. */
  received: number[];
  /** Every `ready`, with when it came. */
  readies: Array<ReadyEvent & { at: number }>;
  /** Presence lists, with when each came. */
  presence: Array<PresenceEvent & { at: number }>;
  /** When each disconnect happened, and why. */
  disconnects: Array<{ at: number; reason: string }>;
  /** Handshakes the server refused, with its code and message. */
  refusals: Array<{ at: number; code: string; message: string; retried: boolean }>;
  /** The highest seq seen: what the next handshake sends. */
  lastSeq: number | null;
  /** Resolves once connected and `ready` has arrived (at once if that is so now). */
  whenReady(): Promise<void>;
  /** Runs a command as the console does: refused at once while not connected, given up after 15 s. */
  command(name: string, input: unknown): Promise<CommandOutcome>;
  /**
   * Runs a command as the console does with one that changes something: under a request id of its
   * own, sent again with the same id while the answer is UNAVAILABLE (applied at most once), until
   * `withinMs` has passed.
   */
  commandRetried(name: string, input: unknown, withinMs: number): Promise<CommandOutcome>;
  close(): void;
}

export async function connectConsole(url: string, options: { name: string; cookie: string; org?: string }): Promise<ConsoleClient> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    ...SOCKET_OPTIONS,
    // In a browser the cookie and origin come with the page; here they are sent explicitly.
    extraHeaders: { cookie: options.cookie, origin: ORIGIN },
    auth: (send: (auth: HandshakeAuth) => void) => {
      const auth: HandshakeAuth = options.org ? { org: options.org } : {};
      if (client.lastSeq !== null) auth.lastSeq = client.lastSeq;
      send(auth);
    },
    forceNew: true,
  });
  let ready = false;
  let waiters: Array<() => void> = [];
  let retryTimer: NodeJS.Timeout | undefined;
  const retry = () => {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => socket.connect(), SERVER_DISCONNECT_RETRY_MS);
  };
  const advance = (seq: number) => {
    if (client.lastSeq === null || seq > client.lastSeq) client.lastSeq = seq;
  };
  const send = (name: string, input: unknown, options?: { requestId: string }): Promise<CommandOutcome> => {
    if (!socket.connected) return Promise.resolve({ ok: false, error: { code: 'UNAVAILABLE', message: 'not connected' } });
    return new Promise((resolve) => {
      const answered = (timedOut: Error | null, ack: CommandOutcome) => {
        resolve(timedOut ? { ok: false, error: { code: 'NO_ANSWER', message: `no answer to ${name} in time` } } : ack);
      };
      const timed = socket.timeout(COMMAND_TIMEOUT_MS);
      if (options) timed.emit('command', name as never, input, options, answered as never);
      else timed.emit('command', name as never, input, answered as never);
    });
  };
  const client: ConsoleClient = {
    name: options.name,
    socket,
    received: [],
    readies: [],
    presence: [],
    disconnects: [],
    refusals: [],
    lastSeq: null,
    whenReady: () => (ready ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    command(name, input) {
      return send(name, input);
    },
    async commandRetried(name, input, withinMs) {
      const options = { requestId: randomUUID() };
      const giveUpAt = Date.now() + withinMs;
      for (;;) {
        const outcome = await send(name, input, options);
        const unavailable = !outcome.ok && (outcome.error.code === 'UNAVAILABLE' || outcome.error.code === 'NO_ANSWER');
        if (!unavailable || Date.now() > giveUpAt) return outcome;
        // Paced as a client's retries are, then only once connected and caught up again.
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
        await client.whenReady();
      }
    },
    close() {
      clearTimeout(retryTimer);
      socket.removeAllListeners();
      socket.disconnect();
    },
  };
  for (const event of ['change', 'audit', 'notification'] as const) {
    socket.on(event, (payload: { seq: number }) => {
      client.received.push(payload.seq);
      advance(payload.seq);
    });
  }
  socket.on('ready', (event) => {
    client.readies.push({ ...event, at: Date.now() });
    advance(event.seq);
    ready = true;
    const release = waiters;
    waiters = [];
    for (const resolve of release) resolve();
  });
  socket.on('presence', (event) => client.presence.push({ ...event, at: Date.now() }));
  socket.on('disconnect', (reason) => {
    ready = false;
    client.disconnects.push({ at: Date.now(), reason });
    if (reason === 'io server disconnect') retry();
  });
  socket.on('connect_error', (error) => {
    // Not active: the server refused the handshake; the console retries only a passing refusal.
    const code = (error as Error & { data?: { code?: string } }).data?.code ?? 'UNAVAILABLE';
    const retried = !socket.active && code === 'UNAVAILABLE';
    client.refusals.push({ at: Date.now(), code, message: error.message, retried });
    if (retried) retry();
  });
  await client.whenReady();
  return client;
}

export interface Answer {
  sentAt: number;
  answeredAt: number;
  outcome: CommandOutcome;
}

export interface CommandLoad {
  /** Results of acknowledged commands, in order. */
  acked: any[];
  /** Every answer, acknowledgement or not, in order. */
  answers: Answer[];
  /** Refusals and unanswered commands by code. */
  failed: Map<string, number>;
  /** Resolves once `count` more commands are acknowledged than now (bounded by `timeoutMs`). */
  moreAcks(count: number, timeoutMs: number): Promise<void>;
  /** Stops after the command in flight; resolves when it has its answer. */
  stop(): Promise<void>;
}

/**
 * Sends commands one after the other for as long as it runs, each as soon as the previous one is
 * answered; while disconnected, waits for the client to be back (as a person would).
 */
export function runContinuously(send: (n: number) => Promise<CommandOutcome>, whenReady: () => Promise<void> = async () => {}): CommandLoad {
  const acked: any[] = [];
  const answers: Answer[] = [];
  const failed = new Map<string, number>();
  let stopped = false;
  let release: () => void = () => {};
  const stopping = new Promise<void>((resolve) => (release = resolve));
  let onAck: Array<() => void> = [];
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      await Promise.race([whenReady(), stopping]);
      if (stopped) break;
      const sentAt = Date.now();
      const outcome = await send(n);
      answers.push({ sentAt, answeredAt: Date.now(), outcome });
      if (outcome.ok) {
        acked.push(outcome.result);
        for (const notify of onAck) notify();
      } else {
        failed.set(outcome.error.code, (failed.get(outcome.error.code) ?? 0) + 1);
        // The console would show the error; a person tries again a little later.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  })();
  return {
    acked,
    answers,
    failed,
    moreAcks(count, timeoutMs) {
      const target = acked.length + count;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${count} more acknowledgements did not come within ${timeoutMs} ms (failures: ${JSON.stringify([...failed])})`)), timeoutMs);
        const check = () => {
          if (acked.length < target) return;
          clearTimeout(timer);
          onAck = onAck.filter((notify) => notify !== check);
          resolve();
        };
        onAck.push(check);
        check();
      });
    },
    async stop() {
      stopped = true;
      release();
      await loop;
    },
  };
}
