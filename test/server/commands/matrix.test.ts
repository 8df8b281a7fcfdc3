// The permission matrix, enforced for every command (SPEC §3, §7, §10): a role that lacks a
// command's permission is refused with FORBIDDEN, audited as denied, and changes nothing; API keys
// act with their list intersected with their owner's current permissions; invalid input is refused
// with INVALID_INPUT naming the field, and changes nothing either.
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

let node: SignetNode;
let org: TestOrg;
const cookies = {} as Record<Role, string>;
const sockets = {} as Record<Role, ClientSocket>;
const opened: ClientSocket[] = [];
const orgIds: string[] = [];

/** Fixtures the denied commands would change if they were let through. */
const fixture = { inviteId: '', ciUserId: '', adminKeyId: '', viewerKeyId: '' };

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

async function memberVersion(userId: string): Promise<number> {
  const members = await ok<Array<{ userId: string; version: number }>>(sockets.owner, 'member.list');
  return members.find((m) => m.userId === userId)!.version;
}

/**
 * Audit entries (and their seals) and the event stream grow with a denial; everything else must
 * stay as it was. The sealer writes only audit keys, so this needs no waiting for it.
 */
const isAuditOrEventKey = (key: string) => /:audit(:|$)/.test(key) || /:seq$/.test(key) || /:events$/.test(key);

async function stateExceptAudit(): Promise<Record<string, string>> {
  const all = await snapshot(node);
  return Object.fromEntries(Object.entries(all).filter(([key]) => !isAuditOrEventKey(key)));
}

async function fullState(): Promise<Record<string, string>> {
  await auditSealed(node);
  return snapshot(node);
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
    default:
      return {};
  }
}

beforeAll(async () => {
  node = await startNode(testConfig());
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
});

afterAll(async () => {
  for (const socket of opened) socket.close();
  if (node) await node.close();
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
      ]),
    );
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
  properties?: Record<string, JsonSchemaProperty>;
  required?: string[];
  anyOf?: JsonSchema[];
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

const withRequiredFields = COMMANDS.map((definition) => ({ name: definition.name, schema: jsonSchemaOf(definition.name) })).filter(
  ({ schema }) => (schema.required?.length ?? 0) > 0,
);
const refusingEmptyInput = COMMANDS.filter((definition) => !definition.input.safeParse({}).success).map((definition) => ({
  name: definition.name,
  schema: jsonSchemaOf(definition.name),
}));

describe('invalid input gets INVALID_INPUT naming the field, and changes nothing', () => {
  it('there are commands with required fields to check (sanity check of the table)', () => {
    expect(withRequiredFields.map((c) => c.name)).toEqual(expect.arrayContaining(['org.update', 'member.invite', 'member.changeRole', 'apiKey.create']));
  });

  for (const { name, schema } of refusingEmptyInput) it(`${name} without input names a missing field`, async () => {
    const before = await fullState();
    const auditBefore = (await auditLog(node, org.orgId)).length;

    const ack = await command(sockets.owner, name, {});

    expect(ack.ok).toBe(false);
    if (ack.ok) return;
    expect(ack.error.code).toBe('INVALID_INPUT');
    // Every required field is named; for a choice of shapes, one field of each shape is.
    const alternatives = schema.anyOf ? schema.anyOf.map((alternative) => alternative.required ?? []) : [schema.required ?? []];
    for (const required of alternatives) {
      if (schema.anyOf) expect(required.some((field) => names(ack.error.issues, field)), `one of ${required.join(', ')} named in ${JSON.stringify(ack.error.issues)}`).toBe(true);
      else for (const field of required) expect(names(ack.error.issues, field), `${field} in ${JSON.stringify(ack.error.issues)}`).toBe(true);
    }
    expect(await fullState()).toEqual(before);
    expect(await auditLog(node, org.orgId)).toHaveLength(auditBefore);
  });

  for (const { name, schema } of withRequiredFields) it(`${name} with a bad or missing required field names that field`, async () => {
    const base = await validInput(name, 'owner');
    // The base input really is valid: every refusal below is down to the one broken field.
    expect(commandInputs[name as CommandName].safeParse(base).success).toBe(true);
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
    const base = name === 'notification.markRead' ? { all: true } : await validInput(name, 'owner');
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
