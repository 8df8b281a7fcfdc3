// One deadline per command (SPEC §10, issue 13): with Redis paused, a command is answered
// UNAVAILABLE by the command deadline — not by one Redis timeout after another — over Socket.IO and
// REST, reads and writes, and the answer says what is known of the outcome. A client that names its
// command with a request id can retry an unknown outcome and gets the original result: the command
// is applied once, with one audit entry.
//
// Redis here is a redis-server of this file's own, paused with SIGSTOP. A TCP proxy between the node
// and it pauses Redis at an exact moment: just as the commit script is sent.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../server/config.js';
import type { SignetNode } from '../../server/index.js';
import { spawnRedisServer } from '../../server/store/localRedis.js';
import { auditLog, command, connect, nextEvent, restCommand, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../helpers/signet.js';
import { COMMIT_SCRIPT_SHA, startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';

const DEADLINE_MS = 1500;

let dir: string;
let redis: Awaited<ReturnType<typeof spawnRedisServer>>;
let proxy: TcpProxy;
let config: Config;
let node: SignetNode;
let org: TestOrg;
let owner: ClientSocket;
let ownerCookie: string;
let viewer: ClientSocket;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'signet-deadline-'));
  redis = await spawnRedisServer({ dir });
  proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
  config = testConfig({ SIGNET_COMMAND_DEADLINE_MS: String(DEADLINE_MS) });
  node = await startNode(config, proxy.url);
  org = await seedOrg(node);
  ownerCookie = await signIn(node, org.users.owner);
  owner = await connect(node, { cookie: ownerCookie });
  viewer = await connect(node, { cookie: await signIn(node, org.users.viewer) });
});

afterAll(async () => {
  redis?.child.kill('SIGCONT');
  owner?.close();
  viewer?.close();
  await node?.close();
  await proxy?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const pause = () => redis.child.kill('SIGSTOP');
const resume = () => redis.child.kill('SIGCONT');

async function currentOrg(): Promise<{ name: string; version: number }> {
  const ack = await command<any>(owner, 'org.get');
  expect(ack.ok).toBe(true);
  return ack.result;
}

const auditedRenames = async (name: string) =>
  (await auditLog(node, org.orgId)).filter((entry) => entry.action === 'org.update' && (entry.changes as any)?.name?.after === name);

describe('with Redis paused', () => {
  it('reads and writes answer UNAVAILABLE at the command deadline over Socket.IO and REST, saying nothing was changed', async () => {
    const before = await currentOrg();
    const entriesBefore = (await auditLog(node, org.orgId)).length;
    pause();
    try {
      for (const [name, input] of [
        ['org.update', { name: 'Renamed while paused', version: before.version }],
        ['member.list', {}],
      ] as const) {
        const overSocket = await command(owner, name, input);
        expect(overSocket).toEqual({ ok: false, error: { code: 'UNAVAILABLE', message: expect.stringContaining(`within the command deadline (${DEADLINE_MS} ms)`) } });
        expect(overSocket.error!.message).toMatch(/nothing was changed/);
        const overRest = await restCommand(node, name, input, { cookie: ownerCookie });
        expect(overRest.status).toBe(503);
        expect(overRest.body.error).toEqual({ code: 'UNAVAILABLE', message: expect.stringContaining(`within the command deadline (${DEADLINE_MS} ms)`) });
      }
    } finally {
      resume();
    }
    // The rename the deadline cut off never reaches Redis, even now that the handler could go on.
    expect(await currentOrg()).toMatchObject({ name: before.name, version: before.version });
    const renamed = await command<any>(owner, 'org.update', { name: 'Renamed after', version: before.version });
    expect(renamed).toMatchObject({ ok: true, result: { name: 'Renamed after', version: before.version + 1 } });
    expect((await auditLog(node, org.orgId)).length).toBe(entriesBefore + 1);
  });
});

describe('a deadline longer than the Redis backstop (5 s)', () => {
  it('is the one that bounds a command: one that waited longer than 5 s for a paused Redis is applied once Redis resumes', async () => {
    const patient = await startNode({ ...config, SIGNET_COMMAND_DEADLINE_MS: 20_000 }, proxy.url);
    const socket = await connect(patient, { cookie: ownerCookie });
    try {
      const before = await currentOrg();
      pause();
      let answer: unknown;
      const answered = command<any>(socket, 'org.update', { name: 'Renamed after a long pause', version: before.version }).then((ack) => (answer = ack));
      try {
        // What is tested is a length of time: past the least Redis backstop, well inside the deadline.
        await new Promise((resolve) => setTimeout(resolve, 6000));
        expect(answer).toBeUndefined();
      } finally {
        resume();
      }
      expect(await answered).toMatchObject({ ok: true, result: { name: 'Renamed after a long pause', version: before.version + 1 } });
      expect(await auditedRenames('Renamed after a long pause')).toHaveLength(1);
    } finally {
      socket.close();
      await patient.close();
    }
  });
});

describe('a request id', () => {
  it('after Redis paused mid-commit, a retry with the same id over Socket.IO gets the original result: applied once, audited once', async () => {
    const before = await currentOrg();
    const requestId = randomUUID();
    const rename = { name: `Paused mid-commit ${requestId.slice(0, 8)}`, version: before.version };

    proxy.when(COMMIT_SCRIPT_SHA, pause);
    let first;
    try {
      first = await command(owner, 'org.update', rename, { requestId });
    } finally {
      resume();
    }
    // The commit was on its way when Redis stopped: nobody can know yet whether it applied.
    expect(first).toEqual({ ok: false, error: { code: 'UNAVAILABLE', message: expect.stringContaining('applied entirely or not at all') } });
    expect(first.error!.message).toContain(`within the command deadline (${DEADLINE_MS} ms)`);

    // Redis runs the commit once it resumes; the owner's socket hears of it.
    await nextEvent(owner, 'change', (event) => event.entity === 'organization' && (event.data as any)?.name === rename.name);
    const retried = await command<any>(owner, 'org.update', rename, { requestId });
    expect(retried).toEqual({ ok: true, result: expect.objectContaining({ name: rename.name, version: before.version + 1 }), replayed: true });
    const again = await command<any>(owner, 'org.update', rename, { requestId });
    expect(again).toEqual(retried);

    expect(await currentOrg()).toMatchObject({ name: rename.name, version: before.version + 1 });
    expect(await auditedRenames(rename.name)).toHaveLength(1);
  });

  it('over REST it is the Idempotency-Key header; the retry is marked Idempotent-Replayed', async () => {
    const before = await currentOrg();
    const idempotencyKey = `ci-${randomUUID()}`;
    const rename = { name: `REST mid-commit ${idempotencyKey.slice(3, 11)}`, version: before.version };

    proxy.when(COMMIT_SCRIPT_SHA, pause);
    let first;
    try {
      first = await restCommand(node, 'org.update', rename, { cookie: ownerCookie, idempotencyKey });
    } finally {
      resume();
    }
    expect(first.status).toBe(503);
    expect(first.body.error!.message).toContain('applied entirely or not at all');

    await nextEvent(owner, 'change', (event) => event.entity === 'organization' && (event.data as any)?.name === rename.name);
    const retried = await restCommand(node, 'org.update', rename, { cookie: ownerCookie, idempotencyKey });
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.body).toMatchObject({ ok: true, result: { name: rename.name, version: before.version + 1 }, replayed: true });
    expect(await auditedRenames(rename.name)).toHaveLength(1);
  });

  it('a retry while Redis is still paused cannot say more than that the outcome is open, and to retry with the same id', async () => {
    const before = await currentOrg();
    const requestId = randomUUID();
    const rename = { name: `Retried while paused ${requestId.slice(0, 8)}`, version: before.version };
    proxy.when(COMMIT_SCRIPT_SHA, pause);
    try {
      const first = await command(owner, 'org.update', rename, { requestId });
      expect(first.error!.message).toContain('applied entirely or not at all');
      const second = await command(owner, 'org.update', rename, { requestId });
      expect(second).toEqual({ ok: false, error: { code: 'UNAVAILABLE', message: expect.stringContaining('an earlier one with the same request id may have') } });
    } finally {
      resume();
    }
    await nextEvent(owner, 'change', (event) => event.entity === 'organization' && (event.data as any)?.name === rename.name);
    const third = await command<any>(owner, 'org.update', rename, { requestId });
    expect(third).toMatchObject({ ok: true, result: { name: rename.name, version: before.version + 1 }, replayed: true });
    expect(await auditedRenames(rename.name)).toHaveLength(1);
  });

  it('a command that changed nothing frees its id: the same id runs again', async () => {
    const { version } = await currentOrg();
    const requestId = randomUUID();
    const stale = await command(owner, 'org.update', { name: 'Stale', version: version - 1 }, { requestId });
    expect(stale.error?.code).toBe('CONFLICT');
    // The same id and input again: run again (and still stale), not replayed.
    const staleAgain = await command(owner, 'org.update', { name: 'Stale', version: version - 1 }, { requestId });
    expect(staleAgain).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(staleAgain.replayed).toBeUndefined();
  });

  it('a denial is answered the same on retry, with one audit entry', async () => {
    const requestId = randomUUID();
    const denialsBefore = (await auditLog(node, org.orgId)).filter((entry) => entry.outcome === 'denied').length;
    const first = await command(viewer, 'project.create', { slug: 'not-for-viewers', name: 'No' }, { requestId });
    expect(first.error?.code).toBe('FORBIDDEN');
    const retried = await command(viewer, 'project.create', { slug: 'not-for-viewers', name: 'No' }, { requestId });
    expect(retried).toEqual({ ...first, replayed: true });
    expect((await auditLog(node, org.orgId)).filter((entry) => entry.outcome === 'denied')).toHaveLength(denialsBefore + 1);
  });

  it('is the actor\'s own: another user\'s command with the same id is their own, and an id is not reused for other input', async () => {
    const requestId = randomUUID();
    const ownerKey = await command<any>(owner, 'apiKey.create', { name: 'owner key', permissions: ['config:read'] }, { requestId });
    expect(ownerKey.ok).toBe(true);
    const admin = await connect(node, { cookie: await signIn(node, org.users.admin) });
    try {
      const adminKey = await command<any>(admin, 'apiKey.create', { name: 'admin key', permissions: ['config:read'] }, { requestId });
      expect(adminKey.ok).toBe(true);
      expect(adminKey.replayed).toBeUndefined();
      expect(adminKey.result.apiKey.id).not.toBe(ownerKey.result.apiKey.id);
    } finally {
      admin.close();
    }
    const otherInput = await command(owner, 'apiKey.create', { name: 'another key', permissions: ['config:read'] }, { requestId });
    expect(otherInput).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', issues: [{ path: 'options.requestId', message: expect.stringContaining('already used') }] } });
    // The replay gives the token shown once again, to its own actor only; Redis keeps it sealed.
    const replayed = await command<any>(owner, 'apiKey.create', { name: 'owner key', permissions: ['config:read'] }, { requestId });
    expect(replayed).toEqual({ ...ownerKey, replayed: true });
    const stored = await node.signet.redis.keys(`${node.signet.keys.prefix}org:${org.orgId}:cmd:*`);
    const values = await Promise.all(stored.map((key) => node.signet.redis.get(key)));
    expect(values.join('\n')).not.toContain(ownerKey.result.token);
  });

  it('a bad request id is refused, naming it, and changes nothing', async () => {
    const { version } = await currentOrg();
    const overSocket = await command(owner, 'org.update', { name: 'Bad id', version }, { requestId: 'has spaces' });
    expect(overSocket).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', issues: [{ path: 'options.requestId' }] } });
    const unknownOption = await command(owner, 'org.update', { name: 'Bad id', version }, { requestId: 'fine', retries: 3 });
    expect(unknownOption).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', issues: [{ path: 'options' }] } });
    const overRest = await restCommand(node, 'org.update', { name: 'Bad id', version }, { cookie: ownerCookie, idempotencyKey: 'x'.repeat(201) });
    expect(overRest.status).toBe(400);
    expect(overRest.body.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'Idempotency-Key' }] });
    expect(await currentOrg()).toMatchObject({ version });
  });
});
