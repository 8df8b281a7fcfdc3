// A rolled-back audit log is detected (SPEC §6, issue 10): someone with write access to Redis deletes
// the newest entries with their seals and checkpoints and restores an older signed head and the
// sequence. The chain left is whole and validly signed, so only what was remembered outside Redis
// can tell: each node's checkpoint record on its own disk (alarm: log line, metric, notification to
// audit viewers), a checkpoint saved earlier (`signet audit verify --checkpoint FILE`), and the
// record read by `signet audit verify`. Normal growth, with several nodes sealing, never alarms.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../server/config.js';
import { createLogger } from '../../../server/logger.js';
import { startSignetNode, type SignetNode } from '../../../server/index.js';
import { ROLLBACK_ACTION } from '../../../server/audit/rollbackWatch.js';
import { recordPath } from '../../../server/audit/checkpointRecord.js';
import { parseCheckpointNote } from '../../../src/lib/shared/checkpoint.js';
import {
  auditLog,
  auditSealed,
  command,
  connect,
  http,
  nextEvent,
  redisUrl,
  seedOrg,
  signIn,
  testConfig,
  type ClientSocket,
  type TestOrg,
} from '../../helpers/signet.js';
import { must, removeDir, run, tempDir } from '../../helpers/signing.js';
import { rollBackAuditLog, sealedSizes } from '../../helpers/auditRollback.js';

/** Generous for a loaded 2-core machine: how long an alarm may take to reach a socket. */
const ALARM_WAIT_MS = 15_000;
/** Tests that run the CLI: each run starts Node and tsx, which takes seconds on a loaded 2-core machine. */
const CLI_TEST_MS = 120_000;
/** Tests that start nodes of their own or wait for the alarm, beside vitest's 30 s default. */
const NODE_TEST_MS = 60_000;
const dirs: string[] = [];
const nodes: SignetNode[] = [];
const sockets: ClientSocket[] = [];

interface LoggedNode {
  node: SignetNode;
  /** Every line the node logged, parsed. */
  log: Array<Record<string, any>>;
}

async function startLoggedNode(config: Config): Promise<LoggedNode> {
  const log: Array<Record<string, any>> = [];
  const logger = createLogger('info', { destination: { write: (line: string) => void log.push(JSON.parse(line)) } });
  const node = await startSignetNode({ config, redis: redisUrl(), serveUi: false, logger });
  nodes.push(node);
  return { node, log };
}

function scratch(name: string): string {
  const dir = tempDir(`signet-${name}-`);
  dirs.push(dir);
  return dir;
}

/** The same installation (Redis prefix, master key) as `config`, with other settings. */
function sameInstance(config: Config, overrides: Record<string, string>): Config {
  return testConfig({ SIGNET_MASTER_KEY: config.masterKey.toString('base64'), ...overrides }, config.SIGNET_REDIS_PREFIX);
}

async function rollbackAlarms(node: SignetNode, orgId: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const match = new RegExp(`^signet_audit_rollback_detected_total\\{org="${orgId}"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

const alarmLines = (log: LoggedNode['log']) => log.filter((line) => line.level === 50 && /audit log rollback detected/.test(line.msg));

/** Writes `count` audit entries (invitations) as `socket`'s user. */
async function activity(socket: ClientSocket, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) await must(socket, 'member.invite', { email: `p${randomBytes(4).toString('hex')}@invitees.example.com`, role: 'viewer' });
}

/** Closes a node before the end of the file. */
async function stop(node: SignetNode): Promise<void> {
  nodes.splice(nodes.indexOf(node), 1);
  await node.close();
}

/**
 * An organization whose log has two signed checkpoints, `older` and `newest`, both sealed on
 * `node`, with sockets of its owner and of `others` (signed in first: sign-ins are audited too).
 */
async function orgWithHistory(node: SignetNode, others: Array<'admin' | 'member'> = []) {
  const org = await seedOrg(node);
  const cookies: Partial<Record<'owner' | 'admin' | 'member', string>> = {};
  const socketOf = async (role: 'owner' | 'admin' | 'member') => {
    cookies[role] = await signIn(node, org.users[role]);
    const socket = await connect(node, { cookie: cookies[role] });
    sockets.push(socket);
    return socket;
  };
  const owner = await socketOf('owner');
  const more = await Promise.all(others.map(socketOf));
  await auditSealed(node);
  const older = (await sealedSizes(node, org.orgId)).at(-1)!;
  await activity(owner, 3);
  await auditSealed(node);
  const newest = (await sealedSizes(node, org.orgId)).at(-1)!;
  expect(newest).toBeGreaterThan(older);
  return { org, owner, more, cookies, older, newest };
}

/** The `signet` CLI as a child process, on the installation of `config`. */
function signet(config: Config, checkpointDir: string, ...args: string[]) {
  return run(process.execPath, ['bin/signet.js', ...args], {
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      SIGNET_REDIS_PREFIX: config.SIGNET_REDIS_PREFIX,
      SIGNET_MASTER_KEY: config.masterKey.toString('base64'),
      SIGNET_PUBLIC_URL: config.publicUrl,
      SIGNET_AUDIT_CHECKPOINT_DIR: checkpointDir,
    },
    timeoutMs: 30_000,
  });
}

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.allSettled(nodes.map((node) => node.close()));
  for (const dir of dirs) removeDir(dir);
});

describe('a node that has seen a signed checkpoint', () => {
  let config: Config;
  let watched: LoggedNode;

  beforeAll(async () => {
    // The timer checks every 100 ms here (15 s by default).
    config = testConfig({ SIGNET_AUDIT_CHECKPOINT_DIR: scratch('record'), SIGNET_AUDIT_CHECK_MS: '100' });
    watched = await startLoggedNode(config);
  });

  it('raises the alarm when Redis is rolled back behind it: a log line, the metric, and a notification to audit viewers only', async () => {
    const { node, log } = watched;
    const { org, owner, more, older, newest } = await orgWithHistory(node, ['admin', 'member']);
    const [admin, member] = more as [ClientSocket, ClientSocket];
    // It learns the newest checkpoint when it seals it (just after the seal that ended the wait).
    await expect.poll(async () => (await node.auditWatch.remembered(org.orgId))?.size, { timeout: ALARM_WAIT_MS }).toBe(newest);
    expect(await rollbackAlarms(node, org.orgId)).toBe(0);

    const isAlarm = (event: { notification: { kind: string } }) => event.notification.kind === 'audit.rollback';
    const toAdmin = nextEvent(admin, 'notification', isAlarm, ALARM_WAIT_MS);
    const toOwner = nextEvent(owner, 'notification', isAlarm, ALARM_WAIT_MS);
    await rollBackAuditLog(node, org.orgId, older);
    const [adminAlarm] = await Promise.all([toAdmin, toOwner]);
    expect(adminAlarm.notification).toMatchObject({
      title: 'Audit log rollback detected',
      link: '/audit',
      body: expect.stringContaining(`a node saw a signed checkpoint of ${newest} entries`),
    });

    const [line, ...extraLines] = alarmLines(log);
    expect(extraLines).toEqual([]);
    expect(line).toMatchObject({ orgId: org.orgId, detected: 'rolledBack', remembered: { size: newest }, redis: { size: older } });
    const logged = JSON.stringify(log);
    for (const secret of [config.masterKey.toString('base64'), org.users.owner.password]) expect(logged).not.toContain(secret);
    expect(await rollbackAlarms(node, org.orgId)).toBe(1);

    // The member, without audit:read, was not told: a change the member does see, committed after
    // the alarm, arrives — and nothing about the rollback came before it.
    const projectSeen = nextEvent(member, 'change', (event) => event.entity === 'project');
    await must(owner, 'project.create', { slug: `p-${randomBytes(3).toString('hex')}`, name: 'After the alarm' });
    await projectSeen;
    expect(member.received.filter((r) => r.event === 'notification')).toEqual([]);

    // The detection is in the log itself, and audit.verify reports the rollback against this node's record.
    const entries = await auditLog(node, org.orgId);
    expect(entries.filter((entry) => entry.action === ROLLBACK_ACTION)).toEqual([
      expect.objectContaining({ actor: expect.objectContaining({ type: 'system' }), changes: { entries: { before: newest, after: older } } }),
    ]);
    const verified = await must(admin, 'audit.verify');
    expect(verified).toMatchObject({ ok: false, firstBroken: { reason: expect.stringMatching(/rolled back.*this node's checkpoint record/) } });

    // Once per remembered checkpoint: checking again changes nothing.
    await node.auditWatch.checkAll();
    expect(await rollbackAlarms(node, org.orgId)).toBe(1);
    expect(alarmLines(log)).toHaveLength(1);
    expect(admin.received.filter((r) => r.event === 'notification' && isAlarm(r.data))).toHaveLength(1);
  }, NODE_TEST_MS);

  it("`signet audit verify` fails against the node's record in the data directory", async () => {
    const { node } = watched;
    const { org, older, newest } = await orgWithHistory(node);
    await node.auditWatch.checkAll(); // writes what the node learned to its record
    const recordFile = recordPath(config.auditCheckpointDir, config.SIGNET_REDIS_PREFIX, org.orgId);
    expect(existsSync(recordFile)).toBe(true);

    const before = await signet(config, config.auditCheckpointDir, 'audit', 'verify', '--org', org.slug);
    expect(before.status).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ ok: true, entries: newest });

    await rollBackAuditLog(node, org.orgId, older);
    const after = await signet(config, config.auditCheckpointDir, 'audit', 'verify', '--org', org.slug);
    expect(after.status).toBe(1);
    // (The node's alarm may have written its entry by now: the log holds `older` entries or one more.)
    const result = JSON.parse(after.stdout);
    expect(result.entries).toBeLessThanOrEqual(older + 1);
    expect(result).toMatchObject({
      ok: false,
      firstBroken: {
        seq: result.entries + 1,
        reason: `the log was rolled back: the data directory's record (${recordFile}) holds a signed checkpoint of ${newest} entries, Redis holds ${result.entries}`,
      },
    });
  }, CLI_TEST_MS);
});

describe('`signet audit verify --checkpoint FILE`', () => {
  let config: Config;
  let node: SignetNode;
  /** The CLI's record directory stays empty: only the saved file can tell. */
  let emptyRecord: string;

  beforeAll(async () => {
    config = testConfig({ SIGNET_AUDIT_CHECKPOINT_DIR: scratch('node-record') });
    ({ node } = await startLoggedNode(config));
    emptyRecord = scratch('cli-record');
  });

  async function saveCheckpoint(org: TestOrg): Promise<string> {
    const saved = await signet(config, emptyRecord, 'audit', 'checkpoint', '--org', org.slug);
    expect(saved.status).toBe(0);
    const file = path.join(emptyRecord, `${org.slug}.checkpoint`);
    writeFileSync(file, saved.stdout);
    return file;
  }

  it('saves the current checkpoint (CLI and REST agree), then fails on a log rolled back behind it', async () => {
    const { org, cookies, older, newest } = await orgWithHistory(node, ['admin']);
    const file = await saveCheckpoint(org);
    const note = readFileSync(file, 'utf8');
    expect(parseCheckpointNote(note)).toMatchObject({ origin: `signet.test/signet/audit/${org.orgId}`, size: newest });

    // An outside monitor can keep the same note over REST with audit:read; a member may not.
    const rest = await fetch(`${node.url}/api/v1/orgs/${org.slug}/audit/checkpoint`, { headers: { cookie: cookies.admin! } });
    expect(rest.status).toBe(200);
    expect(rest.headers.get('content-type')).toMatch(/^text\/plain/);
    // <key name>+<key ID>+<base64(0x01 || Ed25519 key)> (the base64 may hold "+" too).
    const [, keyName, keyId, key] = /^([^+]+)\+([^+]+)\+(.+)$/.exec(rest.headers.get('x-signet-note-verifier-key')!)!;
    expect([keyName, keyId]).toEqual([`signet.test/signet/audit/${org.orgId}`, expect.stringMatching(/^[0-9a-f]{8}$/)]);
    expect([...Buffer.from(key!, 'base64')]).toEqual([1, ...node.signet.auditKey.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)]);
    expect(await rest.text()).toBe(note);
    const denied = await http(node, 'GET', `/api/v1/orgs/${org.slug}/audit/checkpoint`, { cookie: await signIn(node, org.users.member) });
    expect(denied.status).toBe(403);

    expect((await signet(config, emptyRecord, 'audit', 'verify', '--org', org.slug, '--checkpoint', file)).status).toBe(0);
    await rollBackAuditLog(node, org.orgId, older);
    const after = await signet(config, emptyRecord, 'audit', 'verify', '--org', org.slug, '--checkpoint', file);
    expect(after.status).toBe(1);
    // (The node's own alarm may have written its entry by now: the log holds `older` entries or one more.)
    const result = JSON.parse(after.stdout);
    expect(result.entries).toBeLessThanOrEqual(older + 1);
    expect(result).toMatchObject({
      ok: false,
      firstBroken: {
        seq: result.entries + 1,
        reason: `the log was rolled back: the checkpoint file ${file} holds a signed checkpoint of ${newest} entries, Redis holds ${result.entries}`,
      },
    });
    // Without the file (and with no record) the shorter chain verifies: that is the hole closed here.
    expect((await signet(config, emptyRecord, 'audit', 'verify', '--org', org.slug)).status).toBe(0);
  }, CLI_TEST_MS);

  it('fails on a log rolled back and then grown past the saved checkpoint (another chain at its size)', async () => {
    const { org, owner, older, newest } = await orgWithHistory(node);
    const file = await saveCheckpoint(org);
    await rollBackAuditLog(node, org.orgId, older);
    await activity(owner, newest - older + 2);
    await auditSealed(node);
    const after = await signet(config, emptyRecord, 'audit', 'verify', '--org', org.slug, '--checkpoint', file);
    expect(after.status).toBe(1);
    expect(JSON.parse(after.stdout).firstBroken).toEqual({
      seq: newest,
      reason: `the log was rolled back and rewritten: entries up to ${newest} differ from the signed checkpoint of ${newest} entries in the checkpoint file ${file}`,
    });
  }, CLI_TEST_MS);

  it('refuses a checkpoint file that is altered, from another organization, or missing, naming the problem', async () => {
    const { org } = await orgWithHistory(node);
    const adminCookie = await signIn(node, org.users.admin);
    const note = await (await fetch(`${node.url}/api/v1/orgs/${org.slug}/audit/checkpoint`, { headers: { cookie: adminCookie } })).text();
    const file = path.join(emptyRecord, `${org.slug}.checkpoint`);
    writeFileSync(file, note);
    const size = parseCheckpointNote(note).size;
    const altered = path.join(emptyRecord, 'altered.checkpoint');
    writeFileSync(altered, note.replace(`\n${size}\n`, `\n${size - 1}\n`));
    const refused = await signet(config, emptyRecord, 'audit', 'verify', '--org', org.slug, '--checkpoint', altered);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`INVALID_INPUT: --checkpoint ${altered}: the checkpoint's signature is not valid`);

    const other = await seedOrg(node);
    await auditSealed(node);
    const wrongOrg = await signet(config, emptyRecord, 'audit', 'verify', '--org', other.slug, '--checkpoint', file);
    expect(wrongOrg.status).toBe(1);
    expect(wrongOrg.stderr).toContain('the checkpoint is for another log');

    const missing = await signet(config, emptyRecord, 'audit', 'verify', '--org', org.slug, '--checkpoint', path.join(emptyRecord, 'nothing-here'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no such file');
  }, CLI_TEST_MS);
});

describe("a node's record outlives the node", () => {
  it('a restarted node finds a log rolled back and rewritten while it was down (another head at its size)', async () => {
    const first = testConfig({ SIGNET_AUDIT_CHECKPOINT_DIR: scratch('record-a'), SIGNET_AUDIT_CHECK_MS: '3600000' });
    const a = await startLoggedNode(first);
    const { org, older, newest } = await orgWithHistory(a.node);
    await stop(a.node); // writes what it learned to its record

    // Meanwhile: the rollback, and another node (without a record of this org) writes on.
    const b = await startLoggedNode(sameInstance(first, { SIGNET_AUDIT_CHECKPOINT_DIR: scratch('record-b'), SIGNET_AUDIT_CHECK_MS: '3600000' }));
    await rollBackAuditLog(b.node, org.orgId, older);
    const owner = await connect(b.node, { cookie: await signIn(b.node, org.users.owner) });
    sockets.push(owner);
    await activity(owner, newest - older + 2);
    await auditSealed(b.node);
    expect((await sealedSizes(b.node, org.orgId)).at(-1)).toBeGreaterThan(newest);

    const again = await startLoggedNode(sameInstance(first, { SIGNET_AUDIT_CHECKPOINT_DIR: first.auditCheckpointDir, SIGNET_AUDIT_CHECK_MS: '3600000' }));
    await again.node.auditWatch.checkAll();
    expect(alarmLines(again.log)).toEqual([expect.objectContaining({ orgId: org.orgId, detected: 'forked', remembered: expect.objectContaining({ size: newest }) })]);
    expect(await rollbackAlarms(again.node, org.orgId)).toBe(1);
  }, NODE_TEST_MS);
});

describe('normal growth', () => {
  it('never raises an alarm, with two nodes sealing, reading and sharing one record directory', async () => {
    const shared = scratch('shared-record');
    const config = testConfig({ SIGNET_AUDIT_CHECKPOINT_DIR: shared, SIGNET_AUDIT_CHECK_MS: '50' });
    const one = await startLoggedNode(config);
    const two = await startLoggedNode(sameInstance(config, { SIGNET_AUDIT_CHECKPOINT_DIR: shared, SIGNET_AUDIT_CHECK_MS: '50' }));
    const org = await seedOrg(one.node);
    const viewers = await Promise.all(
      [one.node, two.node].map(async (node) => {
        const socket = await connect(node, { cookie: await signIn(node, org.users.admin) });
        sockets.push(socket);
        return socket;
      }),
    );
    // Both nodes write, seal and read heads at once, in rounds, while their timers check.
    for (let round = 0; round < 6; round += 1) {
      await Promise.all(
        viewers.flatMap((socket) => [activity(socket, 3), command(socket, 'audit.query', { limit: 5 }), command(socket, 'audit.verify')]),
      );
    }
    await auditSealed(one.node);
    const head = (await sealedSizes(one.node, org.orgId)).at(-1)!;
    for (const { node } of [one, two]) {
      await node.auditWatch.checkAll();
      expect((await node.auditWatch.remembered(org.orgId))?.size).toBe(head);
    }

    for (const { node, log } of [one, two]) {
      expect(alarmLines(log)).toEqual([]);
      expect(await rollbackAlarms(node, org.orgId)).toBe(0);
    }
    for (const socket of viewers) {
      expect(socket.received.filter((r) => r.event === 'notification' && r.data.notification.kind === 'audit.rollback')).toEqual([]);
      expect((await must(socket, 'audit.verify')).ok).toBe(true);
    }
    expect((await auditLog(one.node, org.orgId)).filter((entry) => entry.action === ROLLBACK_ACTION)).toEqual([]);
    // The shared record holds only checkpoints of this chain, none beyond its head; the CLI agrees.
    const lines = readFileSync(recordPath(shared, config.SIGNET_REDIS_PREFIX, org.orgId), 'utf8').trim().split('\n');
    const sizes = lines.map((line) => parseCheckpointNote(JSON.parse(line)).size);
    expect(Math.max(...sizes)).toBe(head);
    const verified = await signet(config, shared, 'audit', 'verify', '--org', org.slug);
    expect(verified.status).toBe(0);
  }, CLI_TEST_MS);
});
