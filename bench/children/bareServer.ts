// The baseline: a bare Socket.IO server (no authentication, no Redis, no validation) doing the
// least work that produces the same traffic as Signet: acking a command with the same result,
// broadcasting the same audit and change payloads to a room, replaying N stored events before
// `ready`, and (over plain HTTP) receiving a multipart upload, hashing it to disk and signing the
// hash. With REDIS_URL it uses the Socket.IO Redis adapter, for the two-node baseline.
//
// With BARE_STORE_REDIS_URL it is the "same I/O" reference of the command scenario instead: each
// command reads the stored record (one round trip: an update audited with its changed fields must
// read before it writes), then makes one Lua call that writes what Signet's commit writes (the
// record, an audit entry, its index, two stream events, a publish) on the bench's Redis, then emits
// the audit entry and the change to the sender's room and acks. No validation, permission, actor,
// rate limit or audit chain: what is left between it and Signet is Signet's own work.
import http from 'node:http';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import path from 'node:path';
import os from 'node:os';
import busboy from 'busboy';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { serveIpc } from './ipc.js';

interface Configuration {
  /** What an org.update ack's result looks like: name and version are filled in per command. */
  commandResult: Record<string, unknown>;
  /** The audit entry an org.update writes (the "same I/O" reference stores and emits it). */
  auditEntry: Record<string, unknown>;
  /** Events replayed in a cycle to a client that connects with auth.replay = N. */
  replayEvents: Array<{ event: string; data: Record<string, unknown> }>;
}

let configuration: Configuration = { commandResult: {}, auditEntry: {}, replayEvents: [{ event: 'audit', data: { entry: {} } }] };
const port = Number(process.env.PORT ?? 0);
const uploadDir = process.env.BARE_UPLOAD_DIR ?? path.join(os.tmpdir(), `signet-bench-bare-${process.pid}`);
mkdirSync(uploadDir, { recursive: true });
const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

let uploads = 0;
const httpServer = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/upload') {
    res.writeHead(404).end();
    return;
  }
  // The same streaming shape as Signet's submission: multipart parsed, the file hashed on its way to disk.
  const id = `u${uploads++}`;
  const file = path.join(uploadDir, id);
  const parser = busboy({ headers: req.headers });
  const fields: Record<string, string> = {};
  let stored: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
  parser.on('field', (name, value) => (fields[name] = value));
  parser.on('file', (_name, stream) => {
    const hash = createHash('sha256');
    const hasher = new Transform({
      transform(chunk, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    stored = pipeline(stream, hasher, createWriteStream(file)).then(() => hash.digest());
  });
  parser.on('close', () => {
    stored
      .then(async (digest) => {
        const signature = sign('sha256', digest, signingKey);
        await writeFile(`${file}.sig`, signature);
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id, sha256: digest.toString('hex'), fields }));
      })
      .catch((error: Error) => res.writeHead(500).end(error.message));
  });
  req.pipe(parser);
});

const STORE_LUA = `
redis.call('SET', KEYS[1], ARGV[1])
local auditSeq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], auditSeq, ARGV[2])
redis.call('ZADD', KEYS[3] .. ':target', auditSeq, auditSeq)
local first = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100000', first .. '-0', 'd', ARGV[2])
local second = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100000', second .. '-0', 'd', ARGV[3])
redis.call('PUBLISH', KEYS[6], ARGV[2] .. ARGV[3])
return {auditSeq, first, second}`;
const storeUrl = process.env.BARE_STORE_REDIS_URL;
const store = storeUrl ? new Redis(storeUrl, { enableAutoPipelining: true }) : null;
store?.defineCommand('storeCommand', { numberOfKeys: 6, lua: STORE_LUA });
const storePrefix = `bench:bare-store:${process.pid}:`;
type StoreClient = Redis & { storeCommand(...args: string[]): Promise<[number, number, number]> };

const redisUrl = process.env.REDIS_URL;
const adapterClients = redisUrl ? [new Redis(redisUrl), new Redis(redisUrl)] : null;
const io = new Server(httpServer, {
  serveClient: false,
  maxHttpBufferSize: 1_000_000,
  ...(adapterClients ? { adapter: createAdapter(adapterClients[0]!, adapterClients[1]!, { key: 'bench-bare' }) } : {}),
});

let seq = 0;
io.on('connection', (socket) => {
  const auth = (socket.handshake.auth ?? {}) as { viewer?: boolean; replay?: number };
  if (auth.viewer) socket.join('viewers');

  const room = `client:${socket.id}`;
  if (store) socket.join(room);
  socket.on('command', (_name: string, input: { name?: string; version?: number }, ack: (response: unknown) => void) => {
    if (typeof ack !== 'function') return;
    const result = { ...configuration.commandResult, name: input?.name, version: (input?.version ?? 0) + 1 };
    if (!store) {
      ack({ ok: true, result });
      return;
    }
    const entry = { ...configuration.auditEntry, time: new Date().toISOString() };
    const change = { entity: 'organization', id: socket.id, op: 'updated', data: result, version: result.version };
    const key = `${storePrefix}${socket.id}`;
    const entryJson = JSON.stringify(entry);
    // Read, then write: an update audited with what changed needs the stored record first.
    store
      .get(key)
      .then(() =>
        (store as StoreClient).storeCommand(key, `${key}:auditseq`, `${key}:audit`, `${key}:seq`, `${key}:events`, `${storePrefix}channel`, JSON.stringify(result), entryJson, JSON.stringify(change)),
      )
      .then(([auditSeq, first, second]) => {
        io.local.to(room).emit('audit', { seq: first, entry: { ...entry, seq: auditSeq } });
        io.local.to(room).emit('change', { seq: second, ...change });
        ack({ ok: true, result });
      })
      .catch((error: Error) => ack({ ok: false, error: { code: 'UNAVAILABLE', message: error.message } }));
  });

  socket.on('trigger', (payload: { audit: { entry: Record<string, unknown> }; change: Record<string, unknown> }, ack?: () => void) => {
    seq += 1;
    const entry = { ...payload.audit.entry, time: new Date().toISOString() };
    io.to('viewers').emit('audit', { seq, entry });
    seq += 1;
    io.to('viewers').emit('change', { ...payload.change, seq });
    if (typeof ack === 'function') ack();
  });

  if (typeof auth.replay === 'number') {
    const events = configuration.replayEvents;
    for (let i = 0; i < auth.replay; i += 1) {
      const { event, data } = events[i % events.length]!;
      socket.emit(event as 'audit', { ...data, seq: i + 1 });
    }
    socket.emit('ready', { seq: auth.replay, resumed: true, replayed: auth.replay });
  } else {
    socket.emit('ready', { seq, resumed: true, replayed: 0 });
  }
});

await new Promise<void>((resolve) => httpServer.listen(port, '127.0.0.1', resolve));
const address = httpServer.address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;

serveIpc(
  {
    configure: (message) => {
      configuration = { ...configuration, ...(message.configuration as Partial<Configuration>) };
      return true;
    },
    sockets: () => io.of('/').sockets.size,
  },
  url,
);

const stop = () => {
  io.close();
  for (const client of adapterClients ?? []) client.disconnect();
  store?.disconnect();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
