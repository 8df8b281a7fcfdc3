// A connection's output: counted and capped, and a flush of several packets written at once.
//
// One stuck reader must not slow everyone (issue 13). A socket that stops reading leaves its
// output on the node: first in the kernel's buffers, then in Node's socket buffer, then in
// engine.io's write buffer, where it grows with every broadcast until the ping timeout ends it
// (~45 s, and +115 MiB with five such sockets under load). So each connection's waiting output is
// counted, and a connection past SIGNET_MAX_SOCKET_BUFFER_BYTES is cut at once. Its client (the
// console) reconnects and resumes from the last sequence number it saw.
//
// What is counted, through documented interfaces only:
//  - packets engine.io queued and has not handed to its transport yet: added on the engine socket's
//    `packetCreate` event, taken off on its `flush` event (which hands over the write buffer);
//  - bytes the connection's TCP socket holds that the kernel has not taken yet (Node's
//    `writable.writableLength`): for a connection opened as a WebSocket, the socket of the request
//    that opened it (engine.io's `socket.request`); for one upgraded from long-polling, the socket
//    of its upgrade request (the HTTP server's `upgrade` event, matched by the engine.io session id).
// A packet's size is its encoded length (characters of the text frame, or bytes). The check runs
// whenever a packet is queued, so a connection never holds much more than the cap plus one packet.
import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import type { SignetIo } from './io.js';

export interface OutputCap {
  readonly maxBytes: number;
  /** The most output any one connection had waiting, as counted when it was checked. */
  readonly peakBytes: number;
}

interface EnginePacket {
  data?: string | Buffer | ArrayBuffer | ArrayBufferView;
}

/** What engine.io documents of its sockets, as far as this needs. */
interface EngineConnection {
  id: string;
  request: { socket: Duplex | null };
  /** `writable`: engine.io's own flag, false while a write is in flight; "ready" makes the connection flush. */
  transport: { name: string; writable: boolean; emit(event: 'ready'): void };
  on(event: 'packetCreate', listener: (this: EngineConnection, packet: EnginePacket) => void): void;
  on(event: 'flush', listener: (this: EngineConnection, buffer: EnginePacket[]) => void): void;
  on(event: 'upgrade' | 'close', listener: (this: EngineConnection) => void): void;
  close(): void;
}

function sizeOf(packet: EnginePacket): number {
  const { data } = packet;
  if (data === undefined) return 1;
  return typeof data === 'string' ? data.length : data.byteLength;
}

/** What is counted of one connection. */
interface Tracked {
  pending: number;
  tcp: Duplex | null;
  /** Once cut, what is still queued in the same tick is dropped with the connection. */
  cut: boolean;
}

export function capSocketOutput(
  io: SignetIo,
  httpServer: HttpServer,
  maxBytes: number,
  log: Logger,
  onCut: () => void,
): OutputCap {
  // Kept with the connection itself (gone when it is): nothing to remove when it closes.
  const tracked = new WeakMap<EngineConnection, Tracked>();
  /** Long-polling connections (they may still upgrade), by engine.io session id. */
  const polling = new Set<string>();
  const upgrading = new Map<string, Duplex>();
  let peakBytes = 0;

  // An upgrade from long-polling brings its own TCP connection; engine.io says whose by the sid.
  httpServer.on('upgrade', (request, socket: Duplex) => {
    const sid = new URL(request.url ?? '/', 'http://upgrade').searchParams.get('sid');
    if (!sid || !polling.has(sid)) return;
    upgrading.set(sid, socket);
    socket.once('close', () => upgrading.delete(sid));
  });

  const waiting = (state: Tracked) => state.pending + (state.tcp?.writableLength ?? 0);

  // One listener of each kind for every connection (engine.io calls them on the connection): a
  // closure per connection would be memory per connection.
  function onPacketCreate(this: EngineConnection, packet: EnginePacket): void {
    const state = tracked.get(this);
    if (!state || state.cut) return;
    hold(this);
    state.pending += sizeOf(packet);
    const bytes = waiting(state);
    if (bytes > peakBytes) peakBytes = bytes;
    if (bytes <= maxBytes) return;
    state.cut = true;
    onCut();
    log.warn({ engineId: this.id, bufferedBytes: bytes, maxBytes }, 'disconnecting a socket that stopped reading: its waiting output passed SIGNET_MAX_SOCKET_BUFFER_BYTES');
    // Destroying the TCP connection drops what it holds at once (a close would queue a close
    // frame behind the very output the client does not read).
    if (state.tcp) state.tcp.destroy();
    else this.close();
  }
  function onFlush(this: EngineConnection, buffer: EnginePacket[]): void {
    const state = tracked.get(this);
    if (!state) return;
    // (A packet queued before this listener existed, the handshake's, is flushed uncounted.)
    for (const packet of buffer) state.pending = Math.max(0, state.pending - sizeOf(packet));
  }
  function onUpgrade(this: EngineConnection): void {
    const state = tracked.get(this);
    if (state) state.tcp = upgrading.get(this.id) ?? null;
    upgrading.delete(this.id);
    polling.delete(this.id);
  }
  function onPollingClose(this: EngineConnection): void {
    polling.delete(this.id);
  }

  // What one pass of the event loop sends a connection leaves in one flush. engine.io writes a
  // packet at once when its transport is idle, so a command's events and its acknowledgement would
  // leave in two or three writes: the events when the commit comes back on the channel, the
  // acknowledgement when Redis's reply to the commit is read, usually in the same pass (both
  // arrive together). So the first packet of a pass holds the transport (as a write in flight
  // does) until the I/O of this pass is handled (setImmediate), when it is released as a
  // finished write releases it, and the connection flushes everything the pass queued. (Socket.IO
  // drops a `volatile` packet while its transport is not writable: Signet sends none.)
  const held = new Set<EngineConnection>();
  function hold(connection: EngineConnection): void {
    const { transport } = connection;
    if (!transport.writable || transport.name !== 'websocket' || held.has(connection)) return;
    transport.writable = false;
    held.add(connection);
    if (held.size === 1) setImmediate(releaseHeld);
  }
  function releaseHeld(): void {
    const connections = [...held];
    held.clear();
    for (const connection of connections) {
      connection.transport.writable = true;
      connection.transport.emit('ready');
    }
  }

  // Several packets flushed at once (engine.io hands its write buffer to the transport, which
  // writes each as a WebSocket frame of its own) leave in one write: the TCP connection is corked
  // from the engine's "flush" to its "drain", both emitted around that hand-over.
  // (Should the drain never come, the connection is uncorked on the next tick all the same.)
  const corked = new Map<EngineConnection, Duplex>();
  const uncork = (connection: EngineConnection) => {
    const tcp = corked.get(connection);
    if (!tcp) return;
    corked.delete(connection);
    tcp.uncork();
  };
  io.engine.on('flush', (raw: unknown, buffer: EnginePacket[]) => {
    const connection = raw as EngineConnection;
    const tcp = buffer.length > 1 ? tracked.get(connection)?.tcp : null;
    if (!tcp || tcp.destroyed || corked.has(connection)) return;
    tcp.cork();
    corked.set(connection, tcp);
    process.nextTick(uncork, connection);
  });
  io.engine.on('drain', (raw: unknown) => uncork(raw as EngineConnection));

  io.engine.on('connection', (raw: unknown) => {
    const connection = raw as EngineConnection;
    const websocket = connection.transport.name === 'websocket';
    tracked.set(connection, { pending: 0, tcp: websocket ? connection.request.socket : null, cut: false });
    connection.on('packetCreate', onPacketCreate);
    connection.on('flush', onFlush);
    // Only a long-polling connection may still upgrade.
    if (websocket) return;
    polling.add(connection.id);
    connection.on('upgrade', onUpgrade);
    connection.on('close', onPollingClose);
  });

  return {
    maxBytes,
    get peakBytes() {
      return peakBytes;
    },
  };
}
