// The console's socket client (src/lib/realtime/socket.svelte.ts) in Node, for the client tests
// (test/src/): the same class and socket options as in the browser, opened to a server on loopback
// (a Signet node, or test/helpers/scriptedServer.ts) instead of the page's origin. In a browser the
// session cookie and the Origin header come by themselves; here they are sent as headers.
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { SOCKET_OPTIONS } from '../../src/lib/realtime/connection.js';
import { RealtimeClient, type ConnectionProblem, type OpenSocket } from '../../src/lib/realtime/socket.svelte.js';
import { startScriptedServer, type ScriptedServer } from './scriptedServer.js';

export interface BrowserHeaders {
  /** The session cookie (`signet_session=…`). */
  cookie?: string;
  /** The page's origin (a Signet node accepts only its own: ORIGIN of test/helpers/signet.ts). */
  origin?: string;
}

/** Opens the console's socket to `url`, with what a browser would send. */
export function socketTo(url: string, headers: BrowserHeaders = {}): OpenSocket {
  const extraHeaders = Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined));
  return (auth) => io(url, { ...SOCKET_OPTIONS, auth, extraHeaders, forceNew: true });
}

/** A console socket client connected to `org` at `url`; resolves after its first `ready` (its first resync). */
export async function connectRealtime(url: string, org: string, headers: BrowserHeaders = {}): Promise<RealtimeClient> {
  const client = new RealtimeClient(socketTo(url, headers));
  await new Promise<void>((resolve, reject) => {
    const stops = [
      client.onResync(() => {
        for (const stop of stops) stop();
        resolve();
      }),
      client.onEnd((problem: ConnectionProblem) => {
        for (const stop of stops) stop();
        client.disconnect();
        reject(new Error(`connection refused: ${problem.code} ${problem.message}`));
      }),
    ];
    client.connect(org);
  });
  return client;
}

export interface ScriptedConnection {
  /** Set once the file's tests start. */
  readonly server: ScriptedServer;
  readonly client: RealtimeClient;
  /** Runs `stop` (an unsubscriber) after the current test. */
  afterTest(stop: () => void): void;
}

/** For a test file: a scripted server, and a console client connected to it, for all its tests. */
export function scriptedConnection(): ScriptedConnection {
  let server: ScriptedServer | undefined;
  let client: RealtimeClient | undefined;
  const stops: Array<() => void> = [];
  beforeAll(async () => {
    server = await startScriptedServer();
    client = await connectRealtime(server.url, 'acme');
  });
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.close();
  });
  return {
    get server() {
      return server!;
    },
    get client() {
      return client!;
    },
    afterTest(stop) {
      stops.push(stop);
    },
  };
}
