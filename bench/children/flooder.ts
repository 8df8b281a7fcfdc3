// A load-generator process that floods Signet as one actor, the way an abusive client would: on
// each of its sockets it emits a burst of commands every interval without waiting for answers, and
// reconnects whenever the server closes a socket or refuses the handshake (after `retryMs`: the
// offered load stays the same however fast the server refuses, and the flooder's own CPU bounded). It runs
// apart from the bench's own process so that the victims' ack latencies are not measured through a
// client event loop busy with the flood.
import type { Socket } from 'socket.io-client';
import { connectReady, type ConnectOptions } from '../lib/clients.js';
import { sleep } from '../lib/stats.js';
import { serveIpc } from './ipc.js';

interface Plan {
  url: string;
  options: ConnectOptions;
  sockets: number;
  burst: number;
  intervalMs: number;
  /** Pause after a refused handshake before the next: bounds the flooder's own CPU on a shared machine. */
  retryMs: number;
  command: string;
  /** Inputs are built from this template: the string "{n}" is replaced with a running number. */
  input: Record<string, unknown>;
}

interface Tally {
  sent: number;
  answers: Record<string, number>;
  handshakes: Record<string, number>;
  closedByServer: number;
}

let running: Promise<void> | null = null;
let flooding = false;
let tally: Tally = fresh();
let counter = 0;

function fresh(): Tally {
  return { sent: 0, answers: {}, handshakes: {}, closedByServer: 0 };
}

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

function inputFor(template: Record<string, unknown>): Record<string, unknown> {
  const n = String(counter++);
  return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, typeof value === 'string' ? value.replaceAll('{n}', n) : value]));
}

async function lane(plan: Plan): Promise<void> {
  let socket: Socket | null = null;
  try {
    while (flooding) {
      if (!socket?.connected) {
        socket?.close();
        socket = null;
        try {
          socket = await connectReady(plan.url, plan.options, 10_000);
          count(tally.handshakes, 'ok');
          socket.on('disconnect', (reason) => {
            if (reason === 'io server disconnect' || reason === 'transport close') tally.closedByServer += 1;
          });
        } catch (error) {
          const code = /"code":"(\w+)"/.exec(String((error as Error).message))?.[1] ?? 'error';
          count(tally.handshakes, code);
          await sleep(plan.retryMs);
          continue;
        }
      }
      for (let i = 0; i < plan.burst && socket.connected; i += 1) {
        tally.sent += 1;
        socket.emit('command', plan.command, inputFor(plan.input), (ack: { ok: boolean; error?: { code: string } }) =>
          count(tally.answers, ack.ok ? 'ok' : ack.error!.code),
        );
      }
      await sleep(plan.intervalMs);
    }
  } finally {
    socket?.close();
  }
}

serveIpc(
  {
    start(message) {
      if (running) throw new Error('already flooding');
      const plan = message.plan as Plan;
      flooding = true;
      tally = fresh();
      running = Promise.all(Array.from({ length: plan.sockets }, () => lane(plan))).then(() => {});
      return true;
    },
    /** Stops, closes the sockets and returns what happened since `start`. */
    async stop() {
      flooding = false;
      await running;
      running = null;
      return tally;
    },
  },
  'flooder',
);

process.once('SIGTERM', () => {
  flooding = false;
  process.exit(0);
});
