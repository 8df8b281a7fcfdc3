// A real Socket.IO server on loopback that speaks Signet's protocol the way a test scripts it: for
// the console's live-state classes at orderings a Signet node cannot be made to produce on demand
// (an event just before a page's answer, an answer held back until a newer one is in, an event sent
// twice). Where a real node can show the behaviour, tests use one (test/helpers/signet.ts).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import type { CommandAck, CommandError } from '../../src/lib/shared/commands.js';
import type { ClientToServerEvents, HandshakeAuth, ServerToClientEvents } from '../../src/lib/shared/events.js';

export type ScriptedSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** How a command is answered: with its result, after emitting what the script wants first. Throw a CommandError to refuse it. */
export type Answer = (input: any, socket: ScriptedSocket) => unknown;

export interface ScriptedServer {
  url: string;
  io: Server<ClientToServerEvents, ServerToClientEvents>;
  /** The handshake `auth` of every connection so far, in order. */
  handshakes: HandshakeAuth[];
  /** Every command received so far, in order. */
  commands: Array<{ name: string; input: any }>;
  /** How the next `name` commands are answered: with these answers in turn (then, as an unscripted command, NOT_FOUND). */
  answer(name: string, ...answers: Answer[]): void;
  /** Resolves with the input of the next `name` command received. */
  nextCommand(name: string): Promise<any>;
  /** The seq `ready` reports to the next connections (the default: 0). */
  seq: number;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const http = createServer();
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(http, { transports: ['websocket'] });
  const answers = new Map<string, Answer[]>();
  const waiting: Array<{ name: string; resolve: (input: any) => void }> = [];
  const server: ScriptedServer = {
    url: '',
    io,
    handshakes: [],
    commands: [],
    seq: 0,
    answer(name, ...inTurn) {
      answers.set(name, inTurn);
    },
    nextCommand(name) {
      return new Promise((resolve) => waiting.push({ name, resolve }));
    },
    async close() {
      io.disconnectSockets(true);
      await io.close();
    },
  };

  io.on('connection', (socket) => {
    server.handshakes.push(socket.handshake.auth as HandshakeAuth);
    socket.on('command', (name, input, ...rest) => {
      const ack = rest.at(-1) as (response: CommandAck) => void;
      server.commands.push({ name, input });
      for (const waiter of waiting.filter((w) => w.name === name)) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(input);
      }
      const answer = answers.get(name)?.shift() ?? (() => Promise.reject({ code: 'NOT_FOUND', message: `no answer scripted for ${name}` }));
      Promise.resolve()
        .then(() => answer(input, socket))
        .then(
          (result) => ack({ ok: true, result }),
          (error: CommandError) => ack({ ok: false, error: { code: error.code ?? 'INTERNAL', message: error.message ?? String(error) } }),
        );
    });
    socket.emit('ready', { seq: server.seq, resumed: true, replayed: 0 });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  server.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return server;
}
