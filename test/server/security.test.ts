// Regression tests for holes found in review: taking over password-less accounts through an
// invitation, re-submitting another person's request, API-key sockets overhearing their owner,
// credentials in webhook URLs, private keys in inline JWKS, and half-applied commits.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { commit, type AuditDraft } from '../../server/store/commit.js';
import { connectRedis } from '../../server/store/redis.js';
import { createOrganization } from '../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../server/audit/entries.js';
import { OPERATOR, auditLog, command, connect, http, nextEvent, redisUrl, seedOrg, startNode, testConfig, type ClientSocket, type TestOrg } from '../helpers/signet.js';
import { createApiKey, createPolicy, createProject, generateCertificate, ok, people, randomArtifact, submitOk, type Person } from '../helpers/signing.js';

let node: SignetNode;
let artifactDir: string;
let org: TestOrg;
let everyone: Record<'owner' | 'admin' | 'member' | 'viewer' | 'other', Person>;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  artifactDir = mkdtempSync(path.join(os.tmpdir(), 'signet-security-'));
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir }));
  org = await seedOrg(node);
  everyone = await people(node, org, { other: 'Otto Other' }, sockets);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  rmSync(artifactDir, { recursive: true, force: true });
});

describe('invitations cannot take over accounts', () => {
  it('a CI user cannot be invited (its email is not a mailbox)', async () => {
    const created = await ok(command(everyone.admin.socket, 'ciUser.create', { name: 'Builder' }));
    const refused = await command(everyone.admin.socket, 'member.invite', { email: created.ciUser.email, role: 'member' });
    expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'email' }] });
  });

  it('an owner account that is not set up yet can only be set up through its own owner invitation', async () => {
    // An operator creates an organization whose owner has no password yet.
    const pending = await createOrganization(
      node.signet,
      { orgSlug: `pending-${org.slug}`, orgName: 'Pending', ownerEmail: `pending@${org.slug}.example.com`, ownerName: 'Pat Pending' },
      OPERATOR,
      CLI_SOURCE,
    );
    // Another organization's admin invites that address and tries to choose its password.
    const invited = await ok(command(everyone.admin.socket, 'member.invite', { email: `pending@${org.slug}.example.com`, role: 'viewer' }));
    const token = new URL(invited.inviteLink).searchParams.get('token');
    const hijack = await http(node, 'POST', '/api/v1/auth/accept-invite', { body: { token, name: 'Mallory', password: 'attacker chosen password' } });
    expect(hijack.status).toBe(403);
    expect(hijack.body.error?.message).toMatch(/not set up yet/);
    // The owner's own invitation still works.
    const ownerToken = new URL(pending.ownerSetupLink!).searchParams.get('token');
    const accepted = await http(node, 'POST', '/api/v1/auth/accept-invite', { body: { token: ownerToken, name: 'Pat Pending', password: 'the owner chose this one' } });
    expect(accepted.status).toBe(200);
  });

  it('a wrong password when accepting for an existing account is audited as a failed sign-in', async () => {
    const second = await createOrganization(
      node.signet,
      { orgSlug: `second-${org.slug}`, orgName: 'Second', ownerEmail: `boss2@${org.slug}.example.com`, ownerName: 'Boss Two', ownerPassword: 'boss two password' },
      OPERATOR,
      CLI_SOURCE,
    );
    const bossSocket = await connect(node, { cookie: (await http(node, 'POST', '/api/v1/auth/login', { body: { email: `boss2@${org.slug}.example.com`, password: 'boss two password' } })).headers.get('set-cookie')!.split(';')[0]! });
    sockets.push(bossSocket);
    const invite = await ok(command(bossSocket, 'member.invite', { email: everyone.member.email, role: 'viewer' }));
    const token = new URL(invite.inviteLink).searchParams.get('token');
    const wrong = await http(node, 'POST', '/api/v1/auth/accept-invite', { body: { token, password: 'not the member password' } });
    expect(wrong.status).toBe(401);
    const failures = (await auditLog(node, second.org.id)).filter((e) => e.action === 'auth.signIn' && e.outcome === 'failed');
    expect(failures).toHaveLength(1);
    expect(JSON.stringify(failures)).not.toContain('not the member password');
  });
});

describe('signing requests belong to their submitter', () => {
  it('re-submitting another member’s request is refused', async () => {
    const project = await createProject(everyone.owner.socket, 'owned');
    const certificate = await generateCertificate(everyone.owner.socket, 'owned-cert');
    await createPolicy(everyone.owner.socket, {
      projectId: project.id,
      slug: 'open',
      certificateId: certificate.id,
      submitters: [everyone.member.userId, everyone.other.userId],
    });
    const token = await createApiKey(everyone.member.socket);
    const submitted = await submitOk(node, org.slug, token, { projectSlug: 'owned', signingPolicySlug: 'open', artifact: randomArtifact(256) });
    const canceled = await command(everyone.member.socket, 'request.cancel', { requestId: submitted.id });
    // It may have been signed already; either way it is final.
    expect(canceled.ok || canceled.error?.code === 'CONFLICT').toBe(true);
    const refused = await command(everyone.other.socket, 'request.resubmit', { requestId: submitted.id });
    expect(refused.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/submitter or an administrator/) });
  });
});

describe('an API key’s socket', () => {
  it('does not overhear its owner’s notifications', async () => {
    const created = await ok(command(everyone.member.socket, 'apiKey.create', { name: 'listener', permissions: ['team:read'] }));
    const keySocket = await connect(node, { token: created.token });
    sockets.push(keySocket);
    const members = await ok(command(everyone.owner.socket, 'member.list'));
    const member = members.find((m: { userId: string }) => m.userId === everyone.member.userId);
    const delivered = nextEvent(everyone.member.socket, 'notification');
    await ok(command(everyone.owner.socket, 'member.changeRole', { userId: everyone.member.userId, role: 'viewer', version: member.version }));
    await delivered;
    await ok(command(everyone.member.socket, 'me.get'));
    expect(keySocket.received.filter((r) => r.event === 'notification')).toEqual([]);
    const back = (await ok(command(everyone.owner.socket, 'member.list'))).find((m: { userId: string }) => m.userId === everyone.member.userId);
    await ok(command(everyone.owner.socket, 'member.changeRole', { userId: everyone.member.userId, role: 'member', version: back.version }));
  });
});

describe('outbound configuration holds no secrets', () => {
  it('a webhook URL with credentials is refused', async () => {
    const project = await createProject(everyone.owner.socket, 'hooks');
    const refused = await command(everyone.admin.socket, 'webhook.create', { projectId: project.id, url: 'https://user:pass@hooks.example.com/x' });
    expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'url' }] });
  });

  // Every form of it, at save and request time: test/server/security/ssrf.test.ts.
  it('webhooks and JWKS URLs may not point at cloud metadata or link-local addresses, nor at loopback or private ranges unless allowed', async () => {
    const project = await createProject(everyone.owner.socket, 'metadata');
    const webhook = await command(everyone.admin.socket, 'webhook.create', { projectId: project.id, url: 'http://169.254.169.254/latest/meta-data' });
    expect(webhook.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'url', message: expect.stringMatching(/metadata/) }] });
    const jwks = await command(everyone.admin.socket, 'buildSystem.create', { name: 'Metadata', issuer: 'https://ci.example.com', audience: 'signet', jwksUrl: 'http://[fe80::1]/jwks' });
    expect(jwks.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'jwksUrl', message: expect.stringMatching(/link-local/) }] });
    const { createOutboundClient } = await import('../../server/net/outbound.js');
    const { parseAllowedCidrs } = await import('../../server/net/addresses.js');
    await expect(createOutboundClient({ allowedCidrs: [] }).checkUrl('http://127.0.0.1:9/hook')).rejects.toThrow(/loopback/);
    await expect(createOutboundClient({ allowedCidrs: parseAllowedCidrs('127.0.0.1/32') }).checkUrl('http://127.0.0.1:9/hook')).resolves.toBeUndefined();
    await expect(createOutboundClient({ allowedCidrs: [] }).checkUrl('http://10.1.2.3/hook')).rejects.toThrow(/private/);
  });

  it('inline JWKS with private key parts is refused', async () => {
    const refused = await command(everyone.admin.socket, 'buildSystem.create', {
      name: 'Leaky',
      issuer: 'https://ci.example.com',
      audience: 'signet',
      jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] },
    });
    expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/private parts/) });
  });
});

describe('the commit script', () => {
  const auditProbe = (orgId: string): AuditDraft => ({
    id: 'probe-entry',
    time: '2026-11-22T00:00:00.000Z',
    orgId,
    actor: { type: 'user', id: 'probe', name: 'Probe' },
    action: 'org.update',
    target: { type: 'organization', id: orgId, name: 'Probe' },
    changes: {},
    outcome: 'ok',
    source: CLI_SOURCE,
  });

  it('refuses a bad plan before writing anything', async () => {
    const { redis, keys } = node.signet;
    const seqBefore = await redis.get(keys.eventSeq(org.orgId));
    await expect(
      commit(redis, keys, 1000, {
        ops: [
          ['set', keys.org('half-written'), '{}'],
          ['pexpire', keys.org('half-written'), -5],
        ],
      }),
    ).rejects.toThrow(/bad number/);
    // Numbers Lua would read but the write itself would refuse half-way, and missing values.
    for (const ops of [
      [['set', keys.org('half-written'), '{}'], ['pexpire', keys.org('half-written'), 1.5]],
      [['set', keys.org('half-written'), '{}', Number.NaN]],
      [['set', keys.org('half-written'), '{}'], ['hset', keys.org('half-written-hash'), 'field', undefined]],
    ] as never[]) {
      await expect(commit(redis, keys, 1000, { ops })).rejects.toThrow(/bad number|bad expiry|not a string or a finite number/);
    }
    // A retention XADD would refuse only after the writes before it (String(1e21) is '1e+21').
    for (const retention of [1.5, 1e21]) {
      await expect(commit(redis, keys, retention, { ops: [['set', keys.org('half-written'), '{}']] })).rejects.toThrow(/retention/);
    }
    // The first op was valid, but nothing of the plan was written.
    expect(await redis.exists(keys.org('half-written'))).toBe(0);
    expect(await redis.get(keys.eventSeq(org.orgId))).toBe(seqBefore);
  });

  it("works as a fresh client's very first command, sharing an auto-pipeline with others", async () => {
    // A new node's first commits arrive while the actor reads of other commands are still queued
    // in one auto-pipeline; that pipeline must already know the commit script.
    const fresh = await connectRedis(redisUrl());
    try {
      const { keys } = node.signet;
      const event = { orgId: org.orgId, kind: 'change' as const, audience: ['all' as const], data: { entity: 'probe', id: 'fresh', op: 'updated' } };
      const [stored, first, second] = await Promise.all([
        fresh.get(keys.org(org.orgId)),
        commit(fresh, keys, 1000, { events: [event] }),
        commit(fresh, keys, 1000, { events: [event] }),
      ]);
      expect(JSON.parse(stored!).id).toBe(org.orgId);
      expect(second.events[0]!.seq).toBe(first.events[0]!.seq + 1);
    } finally {
      fresh.disconnect();
    }
  });

  it('keeps event ids growing even when the counter fell behind the stream', async () => {
    const { redis, keys } = node.signet;
    const newestBefore = Number((await redis.xrevrange(keys.events(org.orgId), '+', '-', 'COUNT', 1))[0]![0].split('-')[0]);
    await redis.set(keys.eventSeq(org.orgId), '1');
    const committed = await commit(redis, keys, 1000, {
      events: [{ orgId: org.orgId, kind: 'change', audience: ['all'], data: { entity: 'probe', id: 'behind', op: 'updated' } }],
    });
    const seq = committed.events[0]!.seq;
    expect(seq).toBeGreaterThan(newestBefore);
    // Stored under its own number (other work of this organization may have appended since).
    const [stored] = await redis.xrange(keys.events(org.orgId), `${seq}-0`, `${seq}-0`);
    expect(stored![1].join(' ')).toContain('"id":"behind"');
  });

  it('keeps event ids growing when the newest events were deleted (XADD compares with the last id it gave)', async () => {
    const { redis, keys } = node.signet;
    const orgId = 'trimmed-stream';
    const event = { orgId, kind: 'change' as const, audience: ['all' as const], data: { entity: 'probe', id: 'trimmed', op: 'updated' } };
    const first = await commit(redis, keys, 1000, { events: [event, event] });
    const last = first.events[1]!.seq;
    await redis.xdel(keys.events(orgId), `${first.events[0]!.seq}-0`, `${last}-0`);
    await redis.set(keys.eventSeq(orgId), '0');
    const again = await commit(redis, keys, 1000, { events: [event] });
    expect(again.events[0]!.seq).toBe(last + 1);
    expect(await redis.get(keys.eventSeq(orgId))).toBe(String(last + 1));
  });

  it('writes sequence numbers past 10^14 as digits (Lua would print 1e+14)', async () => {
    const { redis, keys } = node.signet;
    const orgId = 'long-lived';
    await redis.set(keys.eventSeq(orgId), '99999999999999');
    await redis.set(keys.auditSeq(orgId), '99999999999999');
    const committed = await commit(redis, keys, 1000, {
      audits: [auditProbe(orgId)],
      events: [{ orgId, kind: 'change', audience: ['all'], data: { entity: 'probe', id: 'long', op: 'updated' } }],
    });
    expect(committed.audits[0]!.entry.seq).toBe(100_000_000_000_000);
    expect(committed.audits[0]!.eventSeq).toBe(100_000_000_000_000);
    expect(committed.events[0]!.seq).toBe(100_000_000_000_001);
    expect((await redis.xrange(keys.events(orgId), '-', '+')).map(([id]) => id)).toEqual(['100000000000000-0', '100000000000001-0']);
    expect(await redis.zscore(keys.audit(orgId), JSON.stringify(auditProbe(orgId)))).toBe('100000000000000');
    // Its chain starts at 10^14, a gap the sealer would retry every second.
    await redis.srem(keys.auditUnsealed, orgId);
  });
});
