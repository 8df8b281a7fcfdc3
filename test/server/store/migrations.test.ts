// Upgrades: Redis holds a data-format version; a node start (and a CLI run) migrates a store written
// in an older layout, once, even when several nodes start together.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../server/config.js';
import { createLogger } from '../../../server/logger.js';
import { startSignetNode } from '../../../server/index.js';
import { connectRedis, type Redis } from '../../../server/store/redis.js';
import { redisKeys } from '../../../server/store/keys.js';
import { migrateStore, MIGRATIONS, SCHEMA_VERSION } from '../../../server/store/migrations/index.js';
import { redisUrl, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { createApiKey, createPolicy, createProject, generateCertificate, must, people, randomArtifact, submitOk, waitForStatus } from '../../helpers/signing.js';

const exec = promisify(execFile);

/** A logger whose JSON lines are kept, to see what each node logged. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', { destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  return { logger, lines };
}

const applied = (lines: Array<Record<string, unknown>>) => lines.filter((line) => line.msg === 'data migration applied');

let redis: Redis;
beforeAll(async () => {
  redis = await connectRedis(redisUrl());
});
afterAll(() => {
  redis?.disconnect();
});

/**
 * A store as an earlier Signet left it: an organization with its people, no data-format version,
 * and the per-user session index (`user:{id}:sessions`) that version 1 drops.
 */
async function olderStore(): Promise<{ config: Config; org: TestOrg; sessionIndexes: string[] }> {
  const config = testConfig();
  const node = await startNode(config);
  const org = await seedOrg(node);
  await node.close();
  const keys = redisKeys(config.SIGNET_REDIS_PREFIX);
  await redis.del(keys.schemaVersion);
  const sessionIndexes = Object.values(org.users).map((user) => `${keys.prefix}user:${user.userId}:sessions`);
  for (const key of sessionIndexes) await redis.sadd(key, randomBytes(32).toString('hex'), randomBytes(32).toString('hex'));
  return { config, org, sessionIndexes };
}

describe('data-format version', () => {
  it('a new store is recorded at the newest version without running migrations', async () => {
    const { logger, lines } = capturingLogger();
    const config = testConfig();
    const node = await startSignetNode({ config, redis: redisUrl(), serveUi: false, logger });
    expect(await redis.get(node.signet.keys.schemaVersion)).toBe(String(SCHEMA_VERSION));
    expect(applied(lines)).toEqual([]);
    await node.close();
  });

  it('migrations are numbered 1, 2, … with no gaps', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });
});

describe('upgrading a store written in an older layout', () => {
  it('two nodes starting together upgrade it exactly once, logging the migration, and the data still works', async () => {
    const { config, org, sessionIndexes } = await olderStore();
    // Something that only looks like the old index (another key shape) stays.
    const lookalike = `${config.SIGNET_REDIS_PREFIX}user:${org.users.owner.userId}:sessions:keep`;
    await redis.sadd(lookalike, 'x');

    const a = capturingLogger();
    const b = capturingLogger();
    const [nodeA, nodeB] = await Promise.all([
      startSignetNode({ config, redis: redisUrl(), serveUi: false, logger: a.logger }),
      startSignetNode({ config: { ...config, nodeId: 'node-b' }, redis: redisUrl(), serveUi: false, logger: b.logger }),
    ]);
    try {
      const logged = [...applied(a.lines), ...applied(b.lines)];
      // One node applied every migration, each once; the other waited.
      expect(logged.map((line) => line.migration)).toEqual(MIGRATIONS.map((migration) => migration.name));
      expect(logged[0]).toMatchObject({ from: 0, to: 1, migration: MIGRATIONS[0]!.name, changed: sessionIndexes.length });
      expect(await redis.get(nodeA.signet.keys.schemaVersion)).toBe(String(SCHEMA_VERSION));
      expect(await redis.exists(...sessionIndexes)).toBe(0);
      expect(await redis.exists(lookalike)).toBe(1);
      // The people of the old store still sign in, on either node.
      await signIn(nodeA, org.users.owner);
      await signIn(nodeB, org.users.viewer);
    } finally {
      await Promise.all([nodeA.close(), nodeB.close()]);
      await redis.del(lookalike);
    }

    // A later start finds nothing left to do.
    const again = capturingLogger();
    const later = await startSignetNode({ config, redis: redisUrl(), serveUi: false, logger: again.logger });
    expect(applied(again.lines)).toEqual([]);
    await later.close();
  });

  it('the CLI migrates too, before its command', async () => {
    const { config, org, sessionIndexes } = await olderStore();
    const env = { ...process.env, REDIS_URL: redisUrl(), SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX, SIGNET_MASTER_KEY: config.masterKey.toString('base64') };
    const { stdout } = await exec(process.execPath, ['bin/signet.js', 'audit', 'verify', '--org', org.slug], { env });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true });
    expect(await redis.get(redisKeys(config.SIGNET_REDIS_PREFIX).schemaVersion)).toBe(String(SCHEMA_VERSION));
    expect(await redis.exists(...sessionIndexes)).toBe(0);
  });

  it('a node that died holding the migration lock delays the others only until the lock lapses', async () => {
    const { config, sessionIndexes } = await olderStore();
    const keys = redisKeys(config.SIGNET_REDIS_PREFIX);
    await redis.set(keys.schemaLock, 'a node that died', 'PX', 300);
    const { logger, lines } = capturingLogger();
    const result = await migrateStore(redis, keys, logger, { pollMs: 20 });
    expect(result).toMatchObject({ from: 0, to: SCHEMA_VERSION });
    expect(lines.some((line) => line.msg === 'another node is migrating the data; waiting for it')).toBe(true);
    expect(applied(lines)).toHaveLength(MIGRATIONS.length);
    expect(await redis.exists(...sessionIndexes)).toBe(0);
    expect(await redis.exists(keys.schemaLock)).toBe(0);
  });

  it('a store written by a newer Signet stops the start, naming both versions', async () => {
    const config = testConfig();
    const keys = redisKeys(config.SIGNET_REDIS_PREFIX);
    await redis.set(keys.schemaVersion, String(SCHEMA_VERSION + 1));
    const failure = startSignetNode({ config, redis: redisUrl(), serveUi: false, logger: createLogger('silent') });
    await expect(failure).rejects.toThrow(`format version ${SCHEMA_VERSION + 1}, newer than this Signet knows (${SCHEMA_VERSION})`);
  });
});

describe('version 2: the dashboard indexes', () => {
  it('are filled from the requests stored before, exactly as the commits of this version write them', async () => {
    const artifactDir = mkdtempSync(path.join(os.tmpdir(), 'signet-migrate-'));
    const config = testConfig({ SIGNET_ARTIFACT_DIR: artifactDir });
    const keys = redisKeys(config.SIGNET_REDIS_PREFIX);
    const node = await startNode(config);
    const sockets: ClientSocket[] = [];
    const org = await seedOrg(node);
    try {
      const who = await people(node, org, {}, sockets);
      const project = await createProject(who.owner.socket, 'migrated');
      const certificate = await generateCertificate(who.owner.socket, 'migrated-cert');
      await createPolicy(who.owner.socket, { projectId: project.id, slug: 'automatic', certificateId: certificate.id, submitters: [who.member.userId] });
      await createPolicy(who.owner.socket, { projectId: project.id, slug: 'held', certificateId: certificate.id, submitters: [who.member.userId], approvers: [who.admin.userId], requiredApprovals: 1 });
      const token = await createApiKey(who.member.socket);
      const submit = (policy: string) => submitOk(node, org.slug, token, { projectSlug: 'migrated', signingPolicySlug: policy, artifact: randomArtifact(128), fileName: 'app.bin' });
      const automatic = await submit('automatic');
      const approved = await submit('held');
      await must(who.admin.socket, 'request.approve', { requestId: approved.id });
      await must(who.admin.socket, 'request.deny', { requestId: (await submit('held')).id, comment: 'no' });
      await must(who.member.socket, 'request.cancel', { requestId: (await submit('held')).id });
      await Promise.all([automatic, approved].map((request) => waitForStatus(who.owner.socket, request.id, 'Completed', { ask: true })));
    } finally {
      for (const socket of sockets) socket.close();
      await node.close();
      rmSync(artifactDir, { recursive: true, force: true });
    }

    // What the commits wrote; then the store as the previous version would have left it.
    const indexes = [...['Completed', 'Failed', 'Denied', 'Canceled'].map((status) => keys.requestsFinished(org.orgId, status)), keys.approvalWaits(org.orgId)];
    const read = () => Promise.all(indexes.map((key) => redis.zrange(key, '0', '-1', 'WITHSCORES')));
    const written = await read();
    expect(written.map((members) => members.length / 2)).toEqual([2, 0, 1, 1, 2]);
    await redis.del(...indexes);
    await redis.set(keys.schemaVersion, '1');

    const { logger, lines } = capturingLogger();
    expect(await migrateStore(redis, keys, logger)).toMatchObject({ from: 1, to: 2 });
    expect(applied(lines)).toEqual([expect.objectContaining({ from: 1, to: 2, migration: MIGRATIONS[1]!.name, changed: 6 })]);
    expect(await read()).toEqual(written);

    // Run again (a node that died half-way), it adds nothing twice.
    await redis.set(keys.schemaVersion, '1');
    const again = capturingLogger();
    await migrateStore(redis, keys, again.logger);
    expect(applied(again.lines)).toEqual([expect.objectContaining({ changed: 0 })]);
    expect(await read()).toEqual(written);
  });
});
