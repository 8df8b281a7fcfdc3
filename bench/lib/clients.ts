// The load generator's Socket.IO clients: websocket transport only, no reconnection, the session
// cookie and the node's own Origin in the handshake headers (SPEC §7).
import { io, type Socket } from 'socket.io-client';
import { withTimeout } from './stats.js';

export interface ConnectOptions {
  cookie?: string;
  /** Sent as the Origin header: a Signet node accepts only its public URL's origin. */
  origin?: string;
  auth?: Record<string, unknown>;
}

export interface ReadyInfo {
  seq: number;
  resumed: boolean;
  replayed: number;
}

export type BenchSocket = Socket & { ready?: ReadyInfo };

export function openSocket(url: string, options: ConnectOptions = {}): BenchSocket {
  const extraHeaders: Record<string, string> = {};
  if (options.cookie) extraHeaders.cookie = options.cookie;
  if (options.origin) extraHeaders.origin = options.origin;
  return io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 30_000,
    auth: options.auth ?? {},
    extraHeaders,
  });
}

/** Resolves once the server's `ready` event arrived (listeners for other events may be added before). */
export function whenReady(socket: BenchSocket, timeoutMs = 30_000): Promise<BenchSocket> {
  const ready = new Promise<BenchSocket>((resolve, reject) => {
    socket.once('ready', (info: ReadyInfo) => {
      socket.ready = info;
      resolve(socket);
    });
    socket.once('connect_error', (error: Error & { data?: unknown }) => {
      socket.close();
      reject(new Error(`connect_error: ${error.message} ${error.data ? JSON.stringify(error.data) : ''}`));
    });
    socket.once('disconnect', (reason) => reject(new Error(`disconnected before ready: ${reason}`)));
  });
  return withTimeout(ready, timeoutMs, 'socket ready').catch((error) => {
    socket.close();
    throw error;
  });
}

export function connectReady(url: string, options: ConnectOptions = {}, timeoutMs = 30_000): Promise<BenchSocket> {
  return whenReady(openSocket(url, options), timeoutMs);
}

/** Opens `count` connections, at most `concurrency` handshakes at a time. */
export async function connectMany<T>(
  count: number,
  concurrency: number,
  connectOne: (index: number) => Promise<T>,
  onProgress?: (done: number) => void,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await connectOne(index);
      done += 1;
      onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return results;
}

export interface Ack<R = any> {
  ok: boolean;
  result?: R;
  error?: { code: string; message: string };
}

export function command<R = any>(socket: Socket, name: string, input: unknown, timeoutMs = 10_000): Promise<Ack<R>> {
  return withTimeout(
    new Promise<Ack<R>>((resolve) => socket.emit('command', name, input, (ack: Ack<R>) => resolve(ack))),
    timeoutMs,
    `command ${name}`,
  );
}

export function closeAll(sockets: Iterable<Socket | undefined>): void {
  for (const socket of sockets) socket?.close();
}

/**
 * Waits until none of the sockets has received anything for `quietMs` (connection storms of
 * presence broadcasts settle first), at most `maxMs`. Returns how long it waited.
 */
export async function waitForQuiet(sockets: Socket[], quietMs: number, maxMs: number): Promise<number> {
  const startedAt = Date.now();
  let last = Date.now();
  const touch = () => (last = Date.now());
  for (const socket of sockets) socket.onAny(touch);
  try {
    while (Date.now() - last < quietMs && Date.now() - startedAt < maxMs) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, quietMs)));
    }
  } finally {
    for (const socket of sockets) socket.offAny(touch);
  }
  return Date.now() - startedAt;
}
