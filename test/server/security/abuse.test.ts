// What an attacker sends that no client would (SPEC §7, §8, §10): malformed Socket.IO packets,
// arguments of the wrong kind, binary where JSON belongs, command names that are JavaScript's own
// property names, odd handshakes; REST bodies of the wrong type or size; multipart uploads with
// several files, files under other names, hostile file names, a declared length that lies, and
// uploads cut off midway. Each is refused (or ignored) with nothing changed, and the node keeps
// serving everyone else.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io as connectClient } from 'socket.io-client';
import type { SignetNode } from '../../../server/index.js';
import {
  command,
  connect,
  http as request,
  ORIGIN,
  restCommand,
  signIn,
  snapshot,
  testConfig,
  type ClientSocket,
  type TestOrg,
} from '../../helpers/signet.js';
import { createApiKey, createPolicy, createSigningProject, jsonOrText, must, submitRequest } from '../../helpers/signing.js';
import { useSignet, type SignetFixture } from '../../helpers/signetFixture.js';

const MAX_MESSAGE_BYTES = 64 * 1024;

let artifactDir: string;
const fx: SignetFixture = useSignet({
  config: () => {
    artifactDir = fx.tempDir('signet-abuse-');
    return testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES), SIGNET_RATE_LIMIT_PER_MINUTE: '1000000' });
  },
  signIn: false,
});
let node: SignetNode;
let org: TestOrg;
let owner: ClientSocket;
let ownerCookie: string;
let token: string;
const opened: ClientSocket[] = [];

async function open(options: Parameters<typeof connect>[1] = { cookie: ownerCookie }): Promise<ClientSocket> {
  const socket = await connect(node, options);
  opened.push(socket);
  return socket;
}

// A test's extra sockets close with it (a node may cap the sockets one user keeps open).
afterEach(() => {
  for (const socket of opened.splice(1)) socket.close();
});

/** Everything of record (queue bookkeeping and key last-used times aside), with the audit log's size. */
async function state(): Promise<Record<string, string>> {
  const { keys } = node.signet;
  return snapshot(
    node,
    (key) => !/:audit($|:target:|:seals$|:checkpoints$|:head$|:unsealed$)/.test(key) && !key.startsWith(`${keys.bullPrefix}:`) && !key.endsWith(':lastUsed'),
  );
}

/** The node still answers, over HTTP and to a socket that has done nothing wrong. */
async function stillServing(): Promise<void> {
  expect((await request(node, 'GET', '/healthz')).status).toBe(200);
  const ack = await command(owner, 'me.get');
  expect(ack.ok).toBe(true);
}

/** Emits what the typed client would not let through (no acknowledgement, other event names). */
function emitUntyped(socket: ClientSocket, ...args: unknown[]): void {
  (socket.emit as (...all: unknown[]) => unknown).apply(socket, args);
}

/** Writes a raw Socket.IO packet (the part after engine.io's message type) on the socket's connection. */
function writeRaw(socket: ClientSocket, packet: string | Buffer): void {
  (socket.io.engine as unknown as { write(data: string | Buffer): void }).write(packet);
}

/** Resolves with how the connection ended, or 'open' if it is still up after the node answered a later packet on it. */
async function fate(socket: ClientSocket): Promise<string> {
  if (!socket.connected) return 'closed';
  const closed = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(`closed: ${reason}`)));
  const answered = new Promise<string>((resolve) => socket.emit('command', 'me.get', {}, () => resolve('open')));
  return Promise.race([closed, answered]);
}

const requestDirs = () => (existsSync(path.join(artifactDir, org.orgId)) ? readdirSync(path.join(artifactDir, org.orgId)).sort() : []);

/** Waits (polling, bounded) until `check` holds: for cleanup the node does after a client went away, which sends no event. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  ({ node, org } = fx);
  fx.onClose(() => opened.forEach((socket) => socket.close()));
  ownerCookie = await signIn(node, org.users.owner);
  owner = await open();
  const { project, certificate } = await createSigningProject(owner, { slug: 'target' });
  // Two approvals: nothing submitted here is signed (and so nothing changes behind the tests' back).
  await createPolicy(owner, { projectId: project.id, slug: 'release', certificateId: certificate.id, submitters: [org.users.owner.userId], approvers: [org.users.admin.userId, org.users.member.userId], requiredApprovals: 2 });
  token = await createApiKey(owner);
});

describe('Socket.IO packets no client sends', () => {
  const orgUpdate = () => `["command","org.update",{"name":"Renamed by a raw packet","version":1}]`;
  const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  const packets: Array<[what: string, packet: () => string]> = [
    ['JSON cut off', () => '21["command","me.get"'],
    ['an object where the argument list belongs', () => '21{"command":"org.update"}'],
    ['an empty argument list', () => '21[]'],
    ['a reserved event name', () => '21["disconnect","org.update"]'],
    ['an unknown packet type', () => '9["command","me.get",{}]'],
    ['a namespace that does not exist', () => '2/admin,1["command","me.get",{}]'],
    ['an acknowledgement id beyond any number', () => `2${'9'.repeat(400)}["command","me.get",{}]`],
    ['a binary event whose attachment never comes', () => '51-["command","org.update",{"_placeholder":true,"num":0}]'],
    ['a command without an acknowledgement (which must not run)', () => `2${orgUpdate()}`],
    ['a command whose acknowledgement is not the last argument', () => `23["command","org.update",{"name":"x","version":1},"not the ack"]`],
    ['a command name nested 20,000 arrays deep', () => `24["command",${deep(20_000)},{}]`],
    ['an input nested 20,000 arrays deep', () => `25["command","org.update",${deep(20_000)}]`],
    ['a command name that is an object with its own toString', () => '26["command",{"toString":1,"valueOf":1},{}]'],
  ];

  for (const [what, packet] of packets) {
    it(`${what}: nothing changes, and the node serves everyone else`, async () => {
      const before = await state();
      const socket = await open();
      writeRaw(socket, packet());
      // The connection is closed or keeps answering; either way the node is not hurt.
      expect(await fate(socket)).toMatch(/^(open|closed)/);
      await stillServing();
      expect(await state()).toEqual(before);
    });
  }

  it('a command without an acknowledgement is not run at all', async () => {
    const before = await state();
    const socket = await open();
    emitUntyped(socket, 'command', 'org.update', { name: 'Renamed without an ack', version: 1 });
    expect(await fate(socket)).toBe('open');
    expect(await state()).toEqual(before);
  });

  it('command names that are not strings are INVALID_INPUT naming the name; JavaScript’s own property names are NOT_FOUND', async () => {
    for (const name of [{ toString: 1 }, ['org', 'update'], 42, null, true, randomBytes(8)]) {
      const ack = await command(owner, name as never, {});
      expect(ack.error, JSON.stringify(name)).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'name' }] });
    }
    for (const name of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', '', 'x'.repeat(10_000)]) {
      const ack = await command(owner, name, {});
      expect(ack.error, name.slice(0, 40)).toMatchObject({ code: 'NOT_FOUND' });
      expect(ack.error!.message.length).toBeLessThan(200);
      const rest = await restCommand(node, encodeURIComponent(name), {}, { token });
      if (name) expect(rest.body.error?.code, name.slice(0, 40)).toBe('NOT_FOUND');
    }
    await stillServing();
  });

  it('events other than "command", named after JavaScript’s own properties, are ignored', async () => {
    const before = await state();
    const socket = await open();
    for (const event of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'signet:refresh', 'ready']) emitUntyped(socket, event, { orgId: org.orgId }, () => {});
    expect(await fate(socket)).toBe('open');
    expect(await state()).toEqual(before);
  });

  it('binary where JSON belongs is INVALID_INPUT', async () => {
    const before = await state();
    const ack = await command(owner, 'org.update', randomBytes(64));
    expect(ack.error).toMatchObject({ code: 'INVALID_INPUT' });
    const nested = await command(owner, 'org.update', { name: randomBytes(16), version: 1 });
    expect(nested.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'name' }] });
    expect(await state()).toEqual(before);
  });

  it('a message over SIGNET_MAX_MESSAGE_BYTES, as text or as a binary attachment, closes that socket unanswered', async () => {
    const before = await state();
    for (const input of [{ name: 'x'.repeat(MAX_MESSAGE_BYTES), version: 1 }, randomBytes(MAX_MESSAGE_BYTES + 1)]) {
      const socket = await open();
      let answered = false;
      const closed = new Promise((resolve) => socket.once('disconnect', resolve));
      socket.emit('command', 'org.update', input, () => (answered = true));
      await closed;
      expect(answered).toBe(false);
    }
    await stillServing();
    expect(await state()).toEqual(before);
  });
});

describe('handshakes', () => {
  it('a made-up or signed-out session cookie is UNAUTHENTICATED', async () => {
    await expect(open({ cookie: `signet_session=${randomBytes(32).toString('base64url')}` })).rejects.toThrow(/session has ended/);
    await expect(open({ cookie: 'signet_session=%E0%A4%A' })).rejects.toThrow(/session has ended/);
    const cookie = await signIn(node, org.users.viewer);
    await request(node, 'POST', '/api/v1/auth/logout', { cookie });
    await expect(open({ cookie })).rejects.toThrow(/session has ended/);
  });

  it('a valid API key from another origin is refused as well: no page elsewhere talks to Signet', async () => {
    await expect(open({ token, origin: 'https://evil.example' })).rejects.toThrow();
    expect((await open({ token, origin: null })).connected).toBe(true);
  });

  /** A handshake with `auth` as given (and the owner's cookie): how it ends. */
  function handshake(auth: Record<string, unknown>, cookie?: string): Promise<string> {
    const socket = connectClient(node.url, { transports: ['websocket'], auth, extraHeaders: { origin: ORIGIN, ...(cookie ? { cookie } : {}) }, reconnection: false, forceNew: true });
    return new Promise<string>((resolve) => {
      socket.once('connect_error', (error) => resolve(`refused: ${error.message}`));
      socket.once('ready', () => resolve('ready'));
      socket.once('disconnect', (reason) => resolve(`disconnected: ${reason}`));
    }).finally(() => socket.close());
  }

  it('credentials of the wrong type are refused', async () => {
    for (const auth of [{ token: 42 }, { token: {} }, { token: ['sgn_'] }, { org: ['x'] }, { org: {} }]) {
      expect(await handshake(auth), JSON.stringify(auth)).toMatch(/^refused: /);
    }
  });

  it('a lastSeq that is not a whole number ≥ 0 is refused naming it; the largest one resumes with nothing to replay', async () => {
    for (const lastSeq of [-1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2, '12', { seq: 1 }]) {
      expect(await handshake({ lastSeq }, ownerCookie), JSON.stringify(lastSeq)).toMatch(/^refused: lastSeq/);
    }
    expect(await handshake({ lastSeq: Number.MAX_SAFE_INTEGER }, ownerCookie)).toBe('ready');
    await stillServing();
  });
});

describe('REST bodies', () => {
  /** A command the token may run (so that only the body decides), with an input that would change nothing even if taken as empty. */
  const post = (headers: Record<string, string>, body: string | Buffer, name = 'me.get') =>
    fetch(`${node.url}/api/v1/commands/${name}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) }).then(async (response) => ({
      status: response.status,
      body: await jsonOrText(response),
    }));

  it('a body that is not JSON is INVALID_INPUT naming the body, not an empty input (which would run the command)', async () => {
    const before = await state();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '']) {
      // support.authorize takes an empty input: read as one, this body would authorize support.
      const response = await post(type ? { 'content-type': type } : {}, '{}', 'support.authorize');
      expect(response.status, type).toBe(400);
      expect(response.body.error, type).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'body' }] });
    }
    expect(await state()).toEqual(before);
    // No body at all stands for an empty input.
    const empty = await fetch(`${node.url}/api/v1/commands/me.get`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(empty.status).toBe(200);
  });

  it('malformed JSON, JSON that is not an object, and a body over the limit are INVALID_INPUT', async () => {
    const before = await state();
    for (const body of ['{"name":', 'null', '"support"', '[1,2]', `{"pad":"${'x'.repeat(300 * 1024)}"}`]) {
      const response = await post({ 'content-type': 'application/json' }, body);
      expect(response.status, body.slice(0, 20)).toBe(400);
      expect(response.body.error?.code).toBe('INVALID_INPUT');
    }
    expect(await state()).toEqual(before);
  });

  it('the session cookie without the console’s Origin, or from another one, is FORBIDDEN and writes nothing', async () => {
    const before = await state();
    const version = (await must(owner, 'org.get')).version;
    for (const origin of [null, 'https://evil.example', 'null', `${ORIGIN}.evil.example`]) {
      const forged = await request(node, 'POST', '/api/v1/commands/org.update', { cookie: ownerCookie, origin, body: { name: 'Renamed from elsewhere', version } });
      expect(forged.status, String(origin)).toBe(403);
      expect(forged.body.error?.code).toBe('FORBIDDEN');
    }
    // A cross-site page cannot even read a download with the cookie.
    const download = await fetch(`${node.url}/api/v1/orgs/${org.slug}/audit`, { headers: { cookie: ownerCookie, 'sec-fetch-site': 'cross-site' } });
    expect(download.status).toBe(403);
    expect(await state()).toEqual(before);
  });
});

describe('uploads', () => {
  const endpoint = () => `/api/v1/orgs/${org.slug}/signing-requests`;

  /** A multipart body written byte for byte, so that nothing on the way escapes or checks it. */
  function multipart(parts: Array<{ name: string; fileName?: string; data: string | Buffer }>, boundary = `----signet${randomBytes(8).toString('hex')}`) {
    const chunks: Buffer[] = [];
    for (const part of parts) {
      const disposition = `form-data; name="${part.name}"${part.fileName === undefined ? '' : `; filename="${part.fileName}"`}`;
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.fileName === undefined ? '' : 'Content-Type: application/octet-stream\r\n'}\r\n`));
      chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data));
      chunks.push(Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from(`--${boundary}--\r\n`));
    return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
  }

  const fields = [
    { name: 'projectSlug', data: 'target' },
    { name: 'signingPolicySlug', data: 'release' },
  ];

  async function upload(body: Buffer, type: string) {
    const response = await fetch(`${node.url}${endpoint()}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: new Uint8Array(body) });
    return { status: response.status, body: await jsonOrText(response) };
  }

  /** Refused with INVALID_INPUT naming `field`: no request, no file kept. */
  async function refused(parts: Parameters<typeof multipart>[0], field: string) {
    const before = await state();
    const dirs = requestDirs();
    const { body, type } = multipart(parts);
    const response = await upload(body, type);
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: field }] });
    expect(requestDirs()).toEqual(dirs);
    expect(await state()).toEqual(before);
  }

  it('several files are refused, whichever field the second one is in', async () => {
    const file = (name: string) => ({ name, fileName: `${name}.bin`, data: randomBytes(2048) });
    await refused([...fields, file('artifact'), file('artifact')], 'artifact');
    await refused([...fields, file('artifact'), file('other')], 'artifact');
  });

  it('a file under another name than "artifact" is refused, naming that field', async () => {
    await refused([...fields, { name: 'payload', fileName: 'app.bin', data: randomBytes(100) }], 'payload');
  });

  it('field names that are JavaScript’s own properties are refused like any unknown field', async () => {
    const file = { name: 'artifact', fileName: 'app.bin', data: randomBytes(100) };
    for (const name of ['__proto__', 'constructor', 'prototype', 'toString']) await refused([...fields, { name, data: '{"polluted":true}' }, file], name);
    await refused([...fields, { name: 'parameters[__proto__]', data: 'x' }, file], 'parameters[__proto__]');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('hostile file names: stored only as the request’s own artifact, recorded without any path, downloaded under a harmless name', async () => {
    const escapee = `signet-escape-${randomBytes(4).toString('hex')}.bin`;
    const names = [
      `../../../../../../tmp/${escapee}`,
      `..\\..\\..\\..\\tmp\\${escapee}`,
      `/tmp/${escapee}`,
      `C:\\Windows\\${escapee}`,
      '\u202Egnp.exe',
      'invoice\r\nX-Injected: yes.bin',
      'quote"; filename="evil.exe',
      'nul\u0000byte.bin',
      'e\u0301\u0301\u0301.bin',
    ];
    for (const fileName of names) {
      const response = await submitRequest(node, org.slug, token, { projectSlug: 'target', signingPolicySlug: 'release', artifact: randomBytes(64), fileName });
      if (response.status !== 201) {
        expect(response.body.error, fileName).toMatchObject({ code: 'INVALID_INPUT' });
        continue;
      }
      const recorded = response.body.artifact.fileName as string;
      expect(recorded, fileName).not.toMatch(/[/\\]/);
      expect(recorded.length).toBeLessThanOrEqual(255);
      expect(readdirSync(path.join(artifactDir, org.orgId, response.body.id))).toEqual(['artifact']);
      const download = await fetch(`${node.url}${endpoint()}/${response.body.id}/unsigned-artifact`, { headers: { authorization: `Bearer ${token}` } });
      expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="[\w.-]+"$/);
      await download.arrayBuffer();
    }
    expect(existsSync(`/tmp/${escapee}`)).toBe(false);
    expect(readdirSync(artifactDir)).toEqual([org.orgId]);
  });

  it('a file name that is empty or longer than 255 characters is INVALID_INPUT naming artifact', async () => {
    for (const fileName of ['', 'x'.repeat(256)]) {
      await refused([...fields, { name: 'artifact', fileName, data: randomBytes(64) }], 'artifact');
    }
  });

  /** Sends `head` and `body` on a raw connection, then ends it; the response as text (or '' if none came). */
  function raw(head: string, body: Buffer, closeAfterWrite: 'end' | 'destroy'): Promise<string> {
    return new Promise((resolve) => {
      const socket = net.connect(Number(new URL(node.url).port), '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
      socket.write(head);
      socket.write(body, () => (closeAfterWrite === 'destroy' ? socket.destroy() : socket.end()));
    });
  }

  const headFor = (type: string, length: number) =>
    `POST ${endpoint()} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;

  it('a Content-Length that claims more than is sent, the connection then closed: no request, no file left', async () => {
    const before = await state();
    const dirs = requestDirs();
    const { body, type } = multipart([...fields, { name: 'artifact', fileName: 'app.bin', data: randomBytes(64 * 1024) }]);
    await raw(headFor(type, body.length * 4), body, 'end');
    await eventually(() => requestDirs().length === dirs.length, 'the partial upload was removed');
    await stillServing();
    expect(await state()).toEqual(before);
  });

  it('a Content-Length that claims less than is sent: the form ends early and is refused; no request, no file left', async () => {
    const before = await state();
    const dirs = requestDirs();
    const { body, type } = multipart([...fields, { name: 'artifact', fileName: 'app.bin', data: randomBytes(64 * 1024) }]);
    // The rest of the bytes reads as a malformed next request, which Node's parser answers (400) by closing.
    const answer = await raw(headFor(type, Math.floor(body.length / 2)), body, 'end');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    await eventually(() => requestDirs().length === dirs.length, 'the partial upload was removed');
    await stillServing();
    expect(await state()).toEqual(before);
  });

  it('an upload cut off midway (chunked, the client gone): no request, no file, no record left', async () => {
    const before = await state();
    const dirs = requestDirs();
    const { body, type } = multipart([...fields, { name: 'artifact', fileName: 'app.bin', data: randomBytes(1024 * 1024) }]);
    await new Promise<void>((resolve) => {
      const req = http.request(`${node.url}${endpoint()}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type } });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      // The fields and half of the file, then the client is gone.
      req.write(body.subarray(0, body.length / 2), () => setImmediate(() => req.destroy()));
    });
    await eventually(() => requestDirs().length === dirs.length, 'the partial upload was removed');
    await stillServing();
    expect(await state()).toEqual(before);
  });
});

it('after all of this, the owner’s own work goes through as before', async () => {
  const version = (await must(owner, 'org.get')).version;
  expect((await command(owner, 'org.update', { name: 'Still in charge', version })).ok).toBe(true);
});
