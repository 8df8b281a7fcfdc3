// The permission matrix, enforced for every command (SPEC §3, §7, §10): a role that lacks a
// command's permission is refused with FORBIDDEN, audited as denied, and changes nothing; API keys
// act with their list intersected with their owner's current permissions; invalid input is refused
// with INVALID_INPUT naming the field, and changes nothing either.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SignetNode } from '../../../server/index.js';
import { COMMANDS } from '../../../server/commands/registry.js';
import { commandInputs, type CommandName } from '../../../src/lib/shared/commands.js';
import { ROLES, roleHas, type Role } from '../../../src/lib/shared/permissions.js';
import {
  auditLog,
  auditSealed,
  command,
  connect,
  restCommand,
  seedOrg,
  signIn,
  snapshot,
  startNode,
  testConfig,
  type ClientSocket,
  type TestOrg,
} from '../../helpers/signet.js';
import { opensslCertificate, submitOk, type ImportMaterial } from '../../helpers/signing.js';

let node: SignetNode;
let org: TestOrg;
const cookies = {} as Record<Role, string>;
const sockets = {} as Record<Role, ClientSocket>;
const opened: ClientSocket[] = [];
const orgIds: string[] = [];

/** Fixtures the denied commands would change if they were let through. */
const fixture = { inviteId: '', ciUserId: '', adminKeyId: '', viewerKeyId: '' };

/** The code-signing fixtures, all created by the owner: every refused input below aims at one of them. */
const signing = {
  artifactDir: '',
  projectId: '',
  projectSlug: 'matrix-app',
  /** A second, non-default artifact configuration (the default one cannot be deleted). */
  extraConfigId: '',
  certificateId: '',
  policyId: '',
  policySlug: 'release',
  /** A policy nothing depends on, for policy.delete. */
  sparePolicyId: '',
  buildSystemId: '',
  webhookId: '',
  chatChannelId: '',
  ciToken: '',
  /** Requests waiting for approval, one per command that would move one on. */
  waiting: {} as Record<'request.approve' | 'request.deny' | 'request.cancel', string>,
  /** A canceled (final) request, for request.resubmit. */
  finalRequestId: '',
  material: undefined as unknown as ImportMaterial,
};

const A: Record<Role, string> = { owner: 'an owner', admin: 'an admin', member: 'a member', viewer: 'a viewer' };

async function open(options: Parameters<typeof connect>[1]): Promise<ClientSocket> {
  const socket = await connect(node, options);
  opened.push(socket);
  return socket;
}

async function ok<R = any>(socket: ClientSocket, name: string, input: unknown = {}): Promise<R> {
  const ack = await command<R>(socket, name, input);
  if (!ack.ok) throw new Error(`${name} failed: ${JSON.stringify(ack.error)}`);
  return ack.result;
}

async function versionOf(name: string, input: unknown, pick: (result: any) => { version: number }): Promise<number> {
  return pick(await ok(sockets.owner, name, input)).version;
}

async function memberVersion(userId: string): Promise<number> {
  const members = await ok<Array<{ userId: string; version: number }>>(sockets.owner, 'member.list');
  return members.find((m) => m.userId === userId)!.version;
}

/**
 * Audit entries (and their seals) and the event stream grow with a denial; everything else must
 * stay as it was. The sealer writes only audit keys, so this needs no waiting for it.
 */
const isAuditOrEventKey = (key: string) => /:audit(:|$)/.test(key) || /:seq$/.test(key) || /:events$/.test(key);
/** The job queue's own bookkeeping (BullMQ's markers, stalled checks) changes on its own timers. */
const isQueueInternals = (key: string) => key.startsWith(`${node.signet.keys.bullPrefix}:`);

async function stateExceptAudit(): Promise<Record<string, string>> {
  const all = await snapshot(node);
  return Object.fromEntries(Object.entries(all).filter(([key]) => !isAuditOrEventKey(key) && !isQueueInternals(key)));
}

async function fullState(): Promise<Record<string, string>> {
  await auditSealed(node);
  const all = await snapshot(node);
  return Object.fromEntries(Object.entries(all).filter(([key]) => !isQueueInternals(key)));
}

/**
 * An input the command would accept from `role`, aimed at something it would really change (never
 * the actor itself, never a no-op), so that a missing permission check could not go unnoticed.
 */
async function validInput(name: string, role: Role): Promise<Record<string, unknown>> {
  const other = role === 'member' ? org.users.viewer : org.users.member;
  switch (name) {
    case 'org.update':
      return { name: 'Renamed without permission', version: (await ok(sockets.owner, 'org.get')).version };
    case 'org.delete':
      return { confirmSlug: org.slug };
    case 'member.invite':
      return { email: 'newcomer@example.com', role: 'member' };
    case 'member.changeRole': {
      const target = (await ok<Array<{ userId: string; role: string }>>(sockets.owner, 'member.list')).find((m) => m.userId === other.userId)!;
      return { userId: other.userId, role: target.role === 'member' ? 'viewer' : 'member', version: await memberVersion(other.userId) };
    }
    case 'member.remove':
      return { userId: other.userId };
    case 'invite.revoke':
      return { inviteId: fixture.inviteId };
    case 'ciUser.create':
      return { name: 'Another Bot' };
    case 'ciUser.remove':
      return { userId: fixture.ciUserId };
    case 'support.authorize':
      if ((await ok(sockets.owner, 'org.get')).supportAuthorized) await ok(sockets.owner, 'support.disable');
      return {};
    case 'support.disable':
      if (!(await ok(sockets.owner, 'org.get')).supportAuthorized) await ok(sockets.owner, 'support.authorize');
      return {};
    case 'apiKey.create':
      return { name: 'sneaky key', permissions: ['signing:read'] };
    case 'apiKey.revoke':
      // The viewer's own key: only the missing apikey:write stands in the way.
      return { keyId: role === 'viewer' ? fixture.viewerKeyId : fixture.adminKeyId };
    case 'presence.update':
      return { page: '/members' };
    case 'notification.markRead':
      return { all: true };

    // ——— code signing
    case 'project.get':
    case 'artifactConfig.list':
    case 'webhook.list':
    case 'chatChannel.list':
    case 'policy.list':
      return { projectId: signing.projectId };
    case 'project.create':
      return { slug: 'sneaky-project', name: 'Sneaky project' };
    case 'project.update':
      return { projectId: signing.projectId, version: await versionOf('project.get', { projectId: signing.projectId }, (r) => r.project), name: 'Renamed without permission' };
    case 'project.delete':
      return { projectId: signing.projectId, confirmSlug: signing.projectSlug };
    case 'artifactConfig.create':
      return { projectId: signing.projectId, slug: 'sneaky-config', name: 'Sneaky configuration', fileNamePattern: '*.exe', signatureFormat: 'authenticode', isDefault: true };
    case 'artifactConfig.update':
      return {
        artifactConfigId: signing.extraConfigId,
        version: await versionOf('artifactConfig.list', { projectId: signing.projectId }, (r) => r.find((c: { id: string }) => c.id === signing.extraConfigId)),
        name: 'Renamed without permission',
        signatureFormat: 'openpgp-detached',
      };
    case 'artifactConfig.delete':
      return { artifactConfigId: signing.extraConfigId };
    case 'certificate.generate':
      return { slug: 'sneaky-generated', name: 'Sneaky generated', type: 'release', algorithm: 'ECDSA-P256', commonName: 'Sneaky' };
    case 'certificate.import':
      return {
        slug: 'sneaky-imported',
        name: 'Sneaky imported',
        type: 'release',
        format: 'pem',
        certificatePem: signing.material.certificatePem,
        privateKeyPem: signing.material.privateKeyPem,
      };
    case 'certificate.update':
      return {
        certificateId: signing.certificateId,
        version: await versionOf('certificate.list', {}, (r) => r.find((c: { id: string }) => c.id === signing.certificateId)),
        disabled: true,
      };
    case 'policy.create':
      // A member would make themselves an approver.
      return {
        projectId: signing.projectId,
        slug: 'sneaky-policy',
        name: 'Sneaky policy',
        certificateId: signing.certificateId,
        submitters: [org.users.member.userId],
        approvers: [org.users.member.userId],
        requiredApprovals: 1,
        tsaUrl: 'https://tsa.example.com/sneaky',
        allowWithoutTimestamp: true,
      };
    case 'policy.update':
      return {
        policyId: signing.policyId,
        version: await versionOf('policy.list', { projectId: signing.projectId }, (r) => r.find((p: { id: string }) => p.id === signing.policyId)),
        approvers: [org.users.admin.userId, org.users.member.userId],
        allowWithoutTimestamp: true,
      };
    case 'policy.delete':
      return { policyId: signing.sparePolicyId };
    case 'buildSystem.create':
      return { name: 'Sneaky CI', issuer: 'https://sneaky-ci.example.com', audience: 'signet', jwksUrl: 'https://sneaky-ci.example.com/jwks' };
    case 'buildSystem.delete':
      return { buildSystemId: signing.buildSystemId };
    case 'webhook.create':
      return { projectId: signing.projectId, url: 'https://hooks.example.com/sneaky' };
    case 'webhook.update':
      return {
        webhookId: signing.webhookId,
        version: await versionOf('webhook.list', { projectId: signing.projectId }, (r) => r.find((w: { id: string }) => w.id === signing.webhookId)),
        events: ['request.waitingForApproval'],
      };
    case 'webhook.delete':
      return { webhookId: signing.webhookId };
    case 'chatChannel.create':
      return { projectId: signing.projectId, service: 'slack', name: '#sneaky', url: 'https://hooks.example.com/services/sneaky' };
    case 'chatChannel.delete':
      return { chatChannelId: signing.chatChannelId };
    case 'request.get':
      return { requestId: signing.waiting['request.approve'] };
    case 'request.approve':
      return { requestId: signing.waiting['request.approve'], comment: 'looks fine to me' };
    case 'request.deny':
      return { requestId: signing.waiting['request.deny'], comment: 'not this one' };
    case 'request.cancel':
      return { requestId: signing.waiting['request.cancel'], reason: 'changed my mind' };
    case 'request.resubmit':
      return { requestId: signing.finalRequestId, description: 'once more' };
    default:
      return {};
  }
}

/** Projects, configurations, a certificate, policies, a build system, a webhook and requests. */
async function createSigningFixtures(): Promise<void> {
  signing.material = await opensslCertificate('matrix import');
  const created = await ok(sockets.owner, 'project.create', {
    slug: signing.projectSlug,
    name: 'Matrix App',
    repositoryUrl: 'https://github.com/example/matrix-app',
  });
  signing.projectId = created.project.id;
  signing.extraConfigId = (await ok(sockets.owner, 'artifactConfig.create', { projectId: signing.projectId, slug: 'installers', name: 'Installers' })).id;
  signing.certificateId = (
    await ok(sockets.owner, 'certificate.generate', { slug: 'matrix-cert', name: 'Matrix certificate', type: 'test', commonName: 'Matrix Test Signing' })
  ).id;
  const bot = await ok(sockets.owner, 'ciUser.create', { name: 'Signing Bot' });
  signing.ciToken = bot.token;
  const people = [org.users.owner.userId, org.users.admin.userId, org.users.member.userId];
  signing.policyId = (
    await ok(sockets.owner, 'policy.create', {
      projectId: signing.projectId,
      slug: signing.policySlug,
      name: 'Release',
      certificateId: signing.certificateId,
      submitters: [bot.ciUser.userId, ...people],
      approvers: [org.users.owner.userId, org.users.admin.userId],
      requiredApprovals: 1,
    })
  ).id;
  signing.sparePolicyId = (
    await ok(sockets.owner, 'policy.create', { projectId: signing.projectId, slug: 'spare', name: 'Spare', certificateId: signing.certificateId })
  ).id;
  signing.buildSystemId = (
    await ok(sockets.owner, 'buildSystem.create', { name: 'Matrix CI', issuer: 'https://ci.example.com', audience: 'signet', jwksUrl: 'https://ci.example.com/jwks' })
  ).id;
  signing.webhookId = (await ok(sockets.owner, 'webhook.create', { projectId: signing.projectId, url: 'https://hooks.example.com/matrix' })).webhook.id;
  signing.chatChannelId = (
    await ok(sockets.owner, 'chatChannel.create', { projectId: signing.projectId, service: 'teams', name: '#releases', url: 'https://hooks.example.com/teams/matrix' })
  ).id;

  const submit = async (fileName: string): Promise<string> =>
    (
      await submitOk(node, org.slug, signing.ciToken, {
        projectSlug: signing.projectSlug,
        signingPolicySlug: signing.policySlug,
        artifact: Buffer.from('hello, signed world\n'),
        fileName,
      })
    ).id;
  for (const name of ['request.approve', 'request.deny', 'request.cancel'] as const) signing.waiting[name] = await submit(`${name}.bin`);
  signing.finalRequestId = await submit('final.bin');
  await ok(sockets.owner, 'request.cancel', { requestId: signing.finalRequestId, reason: 'to have a final request' });
}

beforeAll(async () => {
  signing.artifactDir = await mkdtemp(path.join(os.tmpdir(), 'signet-matrix-artifacts-'));
  // Rate limiting is not under test here, and the invalid-input table sends many commands.
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: signing.artifactDir, SIGNET_RATE_LIMIT_PER_MINUTE: '100000' }));
  org = await seedOrg(node);
  orgIds.push(org.orgId);
  for (const role of ROLES) cookies[role] = await signIn(node, org.users[role]);
  for (const role of ROLES) sockets[role] = await open({ cookie: cookies[role] });

  fixture.inviteId = (await ok(sockets.owner, 'member.invite', { email: 'pending@example.com', role: 'viewer' })).invitation.id;
  fixture.ciUserId = (await ok(sockets.owner, 'ciUser.create', { name: 'Build Bot' })).ciUser.userId;
  fixture.adminKeyId = (await ok(sockets.admin, 'apiKey.create', { name: 'admin key', permissions: ['signing:read'] })).apiKey.id;
  // A viewer who once was a member still owns the key created back then.
  const viewerId = org.users.viewer.userId;
  await ok(sockets.owner, 'member.changeRole', { userId: viewerId, role: 'member', version: await memberVersion(viewerId) });
  fixture.viewerKeyId = (await ok(sockets.viewer, 'apiKey.create', { name: 'viewer key', permissions: ['signing:read'] })).apiKey.id;
  await ok(sockets.owner, 'member.changeRole', { userId: viewerId, role: 'viewer', version: await memberVersion(viewerId) });

  await createSigningFixtures();
});

afterAll(async () => {
  for (const socket of opened) socket.close();
  if (node) await node.close();
  if (signing.artifactDir) await rm(signing.artifactDir, { recursive: true, force: true });
});

const denials = COMMANDS.flatMap((definition) =>
  definition.permission === null
    ? []
    : ROLES.filter((role) => !roleHas(role, definition.permission!)).map((role) => ({
        name: definition.name,
        permission: definition.permission!,
        role,
      })),
);

describe('every role that lacks a command’s permission is refused', () => {
  it('the matrix leaves something to refuse (sanity check of the table)', () => {
    expect(denials.length).toBeGreaterThan(10);
    expect(denials).toContainEqual({ name: 'org.delete', permission: 'org:delete', role: 'admin' });
    expect(denials).toContainEqual({ name: 'member.invite', permission: 'team:manage', role: 'member' });
    // The code-signing commands are in the table too.
    expect(denials).toContainEqual({ name: 'project.delete', permission: 'project:delete', role: 'admin' });
    expect(denials).toContainEqual({ name: 'policy.create', permission: 'policy:write', role: 'member' });
    expect(denials).toContainEqual({ name: 'certificate.generate', permission: 'certificate:write', role: 'member' });
    expect(denials).toContainEqual({ name: 'artifactConfig.create', permission: 'config:write', role: 'viewer' });
    expect(denials).toContainEqual({ name: 'request.cancel', permission: 'signing:submit', role: 'viewer' });
    expect(denials).toContainEqual({ name: 'request.resubmit', permission: 'signing:submit', role: 'viewer' });
    expect(denials).toContainEqual({ name: 'request.approve', permission: 'signing:approve', role: 'viewer' });
    expect(denials).toContainEqual({ name: 'request.deny', permission: 'signing:approve', role: 'viewer' });
    expect(denials).toContainEqual({ name: 'chatChannel.create', permission: 'config:write', role: 'viewer' });
    expect(denials).toContainEqual({ name: 'webhook.update', permission: 'config:write', role: 'viewer' });
    // Reading the signing configuration and requests is everyone's.
    expect(denials.some((denial) => /^(project|artifactConfig|certificate|policy|buildSystem|webhook|chatChannel|request)\.(list|get)$/.test(denial.name))).toBe(false);
    expect(denials.some((denial) => denial.role === 'owner')).toBe(false);
  });

  it('the state compared covers the organization, its members, invitations and keys (sanity check of the snapshot)', async () => {
    const { keys } = node.signet;
    expect(Object.keys(await stateExceptAudit())).toEqual(
      expect.arrayContaining([
        keys.org(org.orgId),
        keys.member(org.orgId, org.users.member.userId),
        keys.invite(fixture.inviteId),
        keys.apiKey(fixture.viewerKeyId),
        keys.project(signing.projectId),
        keys.artifactConfig(signing.extraConfigId),
        keys.certificate(signing.certificateId),
        keys.policy(signing.policyId),
        keys.policy(signing.sparePolicyId),
        keys.buildSystem(signing.buildSystemId),
        keys.webhook(signing.webhookId),
        keys.chatChannel(signing.chatChannelId),
        keys.request(signing.waiting['request.approve']),
        keys.request(signing.finalRequestId),
      ]),
    );
  });

  it('the signing fixtures are in the states the refused commands need', async () => {
    for (const requestId of Object.values(signing.waiting)) {
      expect((await ok(sockets.owner, 'request.get', { requestId })).request.workflowStatus).toBe('WaitingForApproval');
    }
    expect((await ok(sockets.owner, 'request.get', { requestId: signing.finalRequestId })).request).toMatchObject({ workflowStatus: 'Canceled', isFinalStatus: true });
    const configs = await ok<Array<{ id: string; isDefault: boolean }>>(sockets.owner, 'artifactConfig.list', { projectId: signing.projectId });
    expect(configs.find((c) => c.id === signing.extraConfigId)?.isDefault).toBe(false);
  });

  for (const { name, permission, role } of denials) it(`${A[role]} cannot run ${name}: it needs ${permission}`, async () => {
    const input = await validInput(name, role);
    const before = await stateExceptAudit();
    const auditBefore = (await auditLog(node, org.orgId)).length;

    const ack = await command(sockets[role], name, input);

    expect(ack.ok).toBe(false);
    if (ack.ok) return;
    expect(ack.error.code).toBe('FORBIDDEN');
    expect(ack.error.message).toContain(permission);

    const entries = await auditLog(node, org.orgId);
    expect(entries).toHaveLength(auditBefore + 1);
    expect(entries.at(-1)).toMatchObject({
      action: name,
      outcome: 'denied',
      actor: { type: 'user', id: org.users[role].userId },
      source: { via: 'socket' },
    });
    expect(await stateExceptAudit()).toEqual(before);
  });
});

describe('over REST the same refusal has the same envelope', () => {
  it('a viewer posting member.invite gets HTTP 403 with FORBIDDEN naming team:manage, audited as denied', async () => {
    const before = await stateExceptAudit();
    const auditBefore = (await auditLog(node, org.orgId)).length;

    const response = await restCommand(node, 'member.invite', { email: 'rest.newcomer@example.com', role: 'member' }, { cookie: cookies.viewer });

    expect(response.status).toBe(403);
    expect(response.body.ok).toBe(false);
    expect(response.body.error?.code).toBe('FORBIDDEN');
    expect(response.body.error?.message).toContain('team:manage');
    const entries = await auditLog(node, org.orgId);
    expect(entries).toHaveLength(auditBefore + 1);
    expect(entries.at(-1)).toMatchObject({
      action: 'member.invite',
      outcome: 'denied',
      actor: { type: 'user', id: org.users.viewer.userId },
      source: { via: 'rest' },
    });
    expect(await stateExceptAudit()).toEqual(before);
  });

  it('an admin posting org.delete gets HTTP 403 and the organization stays', async () => {
    const response = await restCommand(node, 'org.delete', { confirmSlug: org.slug }, { cookie: cookies.admin });
    expect(response.status).toBe(403);
    expect(response.body.error?.code).toBe('FORBIDDEN');
    expect(response.body.error?.message).toContain('org:delete');
    expect((await ok(sockets.owner, 'org.get')).slug).toBe(org.slug);
  });
});

describe('API keys act with their list intersected with their owner’s current permissions', () => {
  let keyOrg: TestOrg;
  const keyCookies = {} as Record<Role, string>;
  const keySockets = {} as Record<Role, ClientSocket>;

  beforeAll(async () => {
    keyOrg = await seedOrg(node);
    orgIds.push(keyOrg.orgId);
    for (const role of ['owner', 'admin', 'member'] as const) {
      keyCookies[role] = await signIn(node, keyOrg.users[role]);
      keySockets[role] = await open({ cookie: keyCookies[role] });
    }
  });

  it('a key whose list lacks the permission gets FORBIDDEN, even though its owner has it', async () => {
    const { token, apiKey } = await ok(keySockets.admin, 'apiKey.create', { name: 'read only', permissions: ['team:read'] });
    const auditBefore = (await auditLog(node, keyOrg.orgId)).length;

    const response = await restCommand(node, 'member.invite', { email: 'via.key@example.com', role: 'viewer' }, { token });

    expect(response.status).toBe(403);
    expect(response.body.error?.code).toBe('FORBIDDEN');
    expect(response.body.error?.message).toContain('team:manage');
    const entries = await auditLog(node, keyOrg.orgId);
    expect(entries).toHaveLength(auditBefore + 1);
    expect(entries.at(-1)).toMatchObject({
      action: 'member.invite',
      outcome: 'denied',
      actor: { type: 'apiKey', id: apiKey.id, onBehalfOf: { id: keyOrg.users.admin.userId } },
    });
    expect(await ok(keySockets.admin, 'invite.list')).toEqual([]);

    // Over a socket authenticated with the key, too.
    const keySocket = await open({ token });
    const ack = await command(keySocket, 'member.invite', { email: 'via.key@example.com', role: 'viewer' });
    expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    // What the list does carry works.
    expect((await command(keySocket, 'member.list')).ok).toBe(true);
  });

  it('a key whose list has the permission gets FORBIDDEN once its owner is demoted below it', async () => {
    const memberId = keyOrg.users.member.userId;
    const { token } = await ok(keySockets.member, 'apiKey.create', { name: 'ci', permissions: ['apikey:write', 'team:read'] });
    const allowed = await restCommand(node, 'apiKey.create', { name: 'made by key', permissions: ['team:read'] }, { token });
    expect(allowed.status).toBe(200);
    expect(allowed.body.ok).toBe(true);

    const version = (await ok<Array<{ userId: string; version: number }>>(keySockets.owner, 'member.list')).find((m) => m.userId === memberId)!.version;
    await ok(keySockets.owner, 'member.changeRole', { userId: memberId, role: 'viewer', version });

    const refused = await restCommand(node, 'apiKey.create', { name: 'made after demotion', permissions: ['team:read'] }, { token });
    expect(refused.status).toBe(403);
    expect(refused.body.error?.code).toBe('FORBIDDEN');
    expect(refused.body.error?.message).toContain('apikey:write');
    // team:read is in both the list and the viewer's role: still allowed.
    expect((await restCommand(node, 'member.list', {}, { token })).status).toBe(200);
  });
});

describe('an unknown command', () => {
  it('is NOT_FOUND over Socket.IO', async () => {
    const ack = await command(sockets.owner, 'member.promoteToGod', {});
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('NOT_FOUND');
  });

  it('is NOT_FOUND (HTTP 404) over REST', async () => {
    const response = await restCommand(node, 'org.explode', {}, { cookie: cookies.owner });
    expect(response.status).toBe(404);
    expect(response.body.error?.code).toBe('NOT_FOUND');
  });
});

// ---------------------------------------------------------------------------------------------
// Invalid input

interface JsonSchemaProperty {
  type?: string;
  enum?: unknown[];
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  minItems?: number;
}
interface JsonSchema {
  properties?: Record<string, JsonSchemaProperty & { const?: unknown }>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

function jsonSchemaOf(name: string): JsonSchema {
  return z.toJSONSchema(commandInputs[name as CommandName], { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** Values no schema of this property accepts: the wrong type, and each bound overstepped. */
function badValues(property: JsonSchemaProperty): unknown[] {
  const values: unknown[] = [null];
  if (property.type === 'string') {
    values.push(42);
    if (property.maxLength !== undefined) values.push('x'.repeat(property.maxLength + 1));
    if (property.enum) values.push('not-one-of-them');
    if (property.pattern) values.push('Not A Valid Value!');
  } else if (property.type === 'integer' || property.type === 'number') {
    values.push('1');
    if (property.minimum !== undefined) values.push(property.minimum - 1);
  } else if (property.type === 'array') {
    values.push('not a list');
    if (property.minItems) values.push([]);
  } else if (property.type === 'boolean') {
    values.push('yes');
  }
  return values;
}

const names = (issues: Array<{ path: string }> | undefined, field: string) =>
  (issues ?? []).some((issue) => issue.path === field || issue.path.startsWith(`${field}.`) || issue.path.split(',').includes(field));

const alternativesOf = (schema: JsonSchema) => schema.anyOf ?? schema.oneOf;

/** For a choice of shapes (certificate.import's pem / pkcs12), the shape a given input has. */
function shapeOf(schema: JsonSchema, input: Record<string, unknown>): JsonSchema {
  const alternatives = alternativesOf(schema);
  if (!alternatives) return schema;
  const matching = alternatives.filter((alternative) =>
    Object.entries(alternative.properties ?? {}).every(([field, property]) => property.const === undefined || input[field] === property.const),
  );
  return matching.find((alternative) => (alternative.required ?? []).every((field) => field in input)) ?? matching[0] ?? schema;
}

const withRequiredFields = COMMANDS.map((definition) => ({ name: definition.name, schema: jsonSchemaOf(definition.name) })).filter(
  ({ schema }) => (schema.required?.length ?? 0) > 0 || (alternativesOf(schema) ?? []).some((alternative) => (alternative.required?.length ?? 0) > 0),
);
const refusingEmptyInput = COMMANDS.filter((definition) => !definition.input.safeParse({}).success).map((definition) => ({
  name: definition.name,
  schema: jsonSchemaOf(definition.name),
}));

describe('invalid input gets INVALID_INPUT naming the field, and changes nothing', () => {
  it('there are commands with required fields to check (sanity check of the table)', () => {
    expect(withRequiredFields.map((c) => c.name)).toEqual(
      expect.arrayContaining(['org.update', 'member.invite', 'member.changeRole', 'apiKey.create', 'project.create', 'certificate.import', 'policy.create', 'request.deny']),
    );
  });

  for (const { name, schema } of refusingEmptyInput) it(`${name} without input names a missing field`, async () => {
    const before = await fullState();
    const auditBefore = (await auditLog(node, org.orgId)).length;

    const ack = await command(sockets.owner, name, {});

    expect(ack.ok).toBe(false);
    if (ack.ok) return;
    expect(ack.error.code).toBe('INVALID_INPUT');
    // Every required field is named; for a choice of shapes, one field of each shape is.
    const shapes = alternativesOf(schema);
    const alternatives = shapes ? shapes.map((alternative) => alternative.required ?? []) : [schema.required ?? []];
    for (const required of alternatives) {
      if (shapes) expect(required.some((field) => names(ack.error.issues, field)), `one of ${required.join(', ')} named in ${JSON.stringify(ack.error.issues)}`).toBe(true);
      else for (const field of required) expect(names(ack.error.issues, field), `${field} in ${JSON.stringify(ack.error.issues)}`).toBe(true);
    }
    expect(await fullState()).toEqual(before);
    expect(await auditLog(node, org.orgId)).toHaveLength(auditBefore);
  });

  for (const { name, schema: declared } of withRequiredFields) it(`${name} with a bad or missing required field names that field`, async () => {
    const base = await validInput(name, 'owner');
    // The base input really is valid: every refusal below is down to the one broken field.
    expect(commandInputs[name as CommandName].safeParse(base).success, JSON.stringify(base).slice(0, 200)).toBe(true);
    const schema = shapeOf(declared, base);
    expect(schema.required?.length, `the shape of ${JSON.stringify(base).slice(0, 200)}`).toBeGreaterThan(0);
    const before = await fullState();
    const auditBefore = (await auditLog(node, org.orgId)).length;

    for (const field of schema.required!) {
      const { [field]: _omitted, ...missing } = base;
      const variants = [missing, ...badValues(schema.properties![field]!).map((value) => ({ ...base, [field]: value }))];
      for (const input of variants) {
        const ack = await command(sockets.owner, name, input);
        expect(ack.ok, `${name} accepted ${JSON.stringify(input).slice(0, 200)}`).toBe(false);
        if (ack.ok) continue;
        expect(ack.error.code).toBe('INVALID_INPUT');
        expect(names(ack.error.issues, field), `${field} in ${JSON.stringify(ack.error.issues)}`).toBe(true);
        expect(ack.error.message).toContain(field);
      }
    }

    expect(await fullState()).toEqual(before);
    expect(await auditLog(node, org.orgId)).toHaveLength(auditBefore);
  });

  for (const { name } of COMMANDS) it(`${name} refuses an unknown extra field`, async () => {
    const base = await validInput(name, 'owner');
    const before = await fullState();
    const auditBefore = (await auditLog(node, org.orgId)).length;

    const ack = await command(sockets.owner, name, { ...base, unexpectedField: true });

    expect(ack.ok).toBe(false);
    if (ack.ok) return;
    expect(ack.error.code).toBe('INVALID_INPUT');
    expect(names(ack.error.issues, 'unexpectedField'), JSON.stringify(ack.error.issues)).toBe(true);
    expect(await fullState()).toEqual(before);
    expect(await auditLog(node, org.orgId)).toHaveLength(auditBefore);
  });

  it('an unknown signature format or a TSA URL that is not http(s) is INVALID_INPUT naming it', async () => {
    const before = await fullState();
    for (const [name, field, input] of [
      ['artifactConfig.update', 'signatureFormat', { ...(await validInput('artifactConfig.update', 'owner')), signatureFormat: 'zip-signature' }],
      ['artifactConfig.create', 'signatureFormat', { ...(await validInput('artifactConfig.create', 'owner')), signatureFormat: 'AUTHENTICODE' }],
      ['policy.update', 'tsaUrl', { ...(await validInput('policy.update', 'owner')), tsaUrl: 'ftp://tsa.example.com' }],
      ['policy.create', 'allowWithoutTimestamp', { ...(await validInput('policy.create', 'owner')), allowWithoutTimestamp: 'yes' }],
    ] as const) {
      const ack = await command(sockets.owner, name, input);
      expect(!ack.ok && ack.error.code, name).toBe('INVALID_INPUT');
      if (!ack.ok) expect(names(ack.error.issues, field), JSON.stringify(ack.error.issues)).toBe(true);
    }
    expect(await fullState()).toEqual(before);
  });

  it('an input that is not an object is INVALID_INPUT', async () => {
    for (const input of ['rename everything', 42, [1, 2]]) {
      const ack = await command(sockets.owner, 'org.update', input);
      expect(!ack.ok && ack.error.code).toBe('INVALID_INPUT');
    }
  });

  it('over REST invalid input is HTTP 400 with the same issues', async () => {
    const before = await fullState();
    const response = await restCommand(node, 'member.invite', { email: 'not an email', role: 'member' }, { cookie: cookies.owner });
    expect(response.status).toBe(400);
    expect(response.body.error?.code).toBe('INVALID_INPUT');
    expect(names(response.body.error?.issues, 'email')).toBe(true);
    expect(await fullState()).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------
// Last, because it changes the fixtures: the refused inputs were refused for the permission alone.

/** Each refused code-signing command, in an order that keeps the later inputs valid, with a role allowed to run it. */
const ACCEPTED_IN_ORDER: Array<[name: string, role: Role]> = [
  ['project.create', 'member'],
  ['project.update', 'member'],
  ['artifactConfig.create', 'member'],
  ['artifactConfig.update', 'member'],
  ['artifactConfig.delete', 'member'],
  ['webhook.create', 'member'],
  ['webhook.update', 'member'],
  ['webhook.delete', 'member'],
  ['chatChannel.create', 'member'],
  ['chatChannel.delete', 'member'],
  ['certificate.generate', 'admin'],
  ['certificate.import', 'admin'],
  ['policy.create', 'admin'],
  ['policy.update', 'admin'],
  ['policy.delete', 'admin'],
  ['buildSystem.create', 'admin'],
  ['buildSystem.delete', 'admin'],
  ['request.approve', 'admin'],
  ['request.deny', 'admin'],
  ['request.cancel', 'admin'],
  ['request.resubmit', 'admin'],
  ['certificate.update', 'admin'],
  ['project.delete', 'owner'],
];

describe('the refused code-signing inputs are otherwise valid: a role with the permission gets them through', () => {
  it('every refused code-signing command is tried here (sanity check of the table)', () => {
    const refused = new Set(denials.map((denial) => denial.name).filter((name) => /^(project|artifactConfig|certificate|policy|buildSystem|webhook|chatChannel|request)\./.test(name)));
    expect([...refused].sort()).toEqual(ACCEPTED_IN_ORDER.map(([name]) => name).sort());
    for (const [name, role] of ACCEPTED_IN_ORDER) {
      const permission = COMMANDS.find((definition) => definition.name === name)!.permission!;
      expect(roleHas(role, permission), `${role} has ${permission}`).toBe(true);
    }
  });

  for (const [name, role] of ACCEPTED_IN_ORDER) it(`${A[role]} runs ${name} with the input refused above`, async () => {
    const auditBefore = (await auditLog(node, org.orgId)).length;
    const ack = await command(sockets[role], name, await validInput(name, role));
    expect(ack.error).toBeUndefined();
    expect(ack.ok).toBe(true);
    const entries = await auditLog(node, org.orgId);
    expect(entries.length).toBeGreaterThan(auditBefore);
    expect(entries.slice(auditBefore).some((entry) => entry.outcome === 'ok' && entry.actor.id === org.users[role].userId)).toBe(true);
  });
});
