// The signing configuration (SPEC §3, §4, §7): projects, artifact configurations, certificates,
// signing policies, build systems and webhooks. Who may write what (config:write for projects and
// artifact configurations, policy:write for policies, build systems and a project's repository URL,
// which origin verification trusts, certificate:write for
// certificates, project:delete for deleting a project), tenancy (another organization's ids are
// not found), optimistic concurrency (a stale version gets CONFLICT with the current entity),
// unique slugs, live `change` events for config:read, and secrets that never leave the server.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPrivateKey, type SealedKey } from '../../../server/store/keyVault.js';
import type { CommandError } from '../../../src/lib/shared/commands.js';
import type { ChangeEvent } from '../../../src/lib/shared/events.js';
import { ROLES, roleHas, type Permission, type Role } from '../../../src/lib/shared/permissions.js';
import { auditLog, command, nextEvent, seedOrg, signIn, snapshot, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { opensslCertificate, type ImportMaterial } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

let artifactDir = '';
const fx = useSignet({
  config: () => testConfig({ SIGNET_ARTIFACT_DIR: (artifactDir = mkdtempSync(path.join(os.tmpdir(), 'signet-config-artifacts-'))), SIGNET_RATE_LIMIT_PER_MINUTE: '100000' }),
});
const { as, open } = fx;
fx.onClose(() => rm(artifactDir, { recursive: true, force: true }));
let orgB: TestOrg;
/** Org B's owner. */
let bOwner: ClientSocket;

/** Every result and error a command returned in this file, for the leak checks. */
const replies: unknown[] = [];

let material: ImportMaterial;
/** Another certificate and key: its key does not match `material`'s certificate. */
let otherMaterial: ImportMaterial;

/** Org B's entities, which org A must not be able to find. */
const theirs = { projectId: '', projectVersion: 0, configId: '', configVersion: 0, certificateId: '', certificateVersion: 0, policyId: '', policyVersion: 0, buildSystemId: '', webhookId: '', chatChannelId: '', ownerId: '' };


async function ok<R = any>(socket: ClientSocket, name: string, input: unknown = {}): Promise<R> {
  const ack = await command<R>(socket, name, input);
  replies.push(ack);
  if (!ack.ok) throw new Error(`${name} failed: ${JSON.stringify(ack.error)}`);
  return ack.result;
}

async function refused(socket: ClientSocket, name: string, input: unknown, code: CommandError['code']): Promise<CommandError> {
  const ack = await command(socket, name, input);
  replies.push(ack);
  expect(ack.ok, `${name} was accepted: ${JSON.stringify(ack.result)?.slice(0, 300)}`).toBe(false);
  if (ack.ok) throw new Error('unreachable');
  expect(ack.error.code, ack.error.message).toBe(code);
  return ack.error;
}

/** INVALID_INPUT whose issues name `field`. */
async function invalidField(socket: ClientSocket, name: string, input: unknown, field: string): Promise<CommandError> {
  const error = await refused(socket, name, input, 'INVALID_INPUT');
  expect(error.issues?.map((issue) => issue.path), error.message).toContain(field);
  expect(error.message).toContain(field);
  return error;
}

/** Resolves with the next change event of this kind on the socket. */
function changeSeen(socket: ClientSocket, entity: string, op: ChangeEvent['op'], match: (event: ChangeEvent) => boolean = () => true) {
  return nextEvent(socket, 'change', (event) => event.entity === entity && event.op === op && match(event));
}

const slugOf = (event: ChangeEvent) => (event.data as { slug?: string } | undefined)?.slug;

let slugCounter = 0;
const freshSlug = (stem: string) => `${stem}-${(slugCounter += 1)}`;

async function newProject(socket: ClientSocket = as.admin, fields: Record<string, unknown> = {}) {
  return ok<{ project: any; defaultArtifactConfig: any }>(socket, 'project.create', { slug: freshSlug('app'), name: 'An App', ...fields });
}

async function newCertificate(socket: ClientSocket = as.admin) {
  return ok(socket, 'certificate.generate', { slug: freshSlug('cert'), name: 'Test cert', type: 'test', commonName: 'Test Signing' });
}

/** Every key and value, without what moves on its own (audit chain, event stream, job queue internals). */
async function stateExceptAudit(): Promise<Record<string, string>> {
  const all = await snapshot(fx.node);
  const volatile = (key: string) =>
    /:audit(:|$)/.test(key) || /:seq$/.test(key) || /:events$/.test(key) || key.startsWith(`${fx.node.signet.keys.bullPrefix}:`);
  return Object.fromEntries(Object.entries(all).filter(([key]) => !volatile(key)));
}

beforeAll(async () => {
  [orgB, material, otherMaterial] = await Promise.all([seedOrg(fx.node), opensslCertificate('x'), opensslCertificate('someone else')]);
  bOwner = await open({ cookie: await signIn(fx.node, orgB.users.owner) });

  // Org B's configuration, made by its own owner.
  const project = await ok(bOwner, 'project.create', { slug: 'theirs', name: 'Their App', repositoryUrl: 'https://github.com/them/app' });
  theirs.projectId = project.project.id;
  theirs.projectVersion = project.project.version;
  theirs.configId = project.defaultArtifactConfig.id;
  theirs.configVersion = project.defaultArtifactConfig.version;
  const certificate = await ok(bOwner, 'certificate.generate', { slug: 'their-cert', name: 'Their cert', type: 'test', commonName: 'Their Test' });
  theirs.certificateId = certificate.id;
  theirs.certificateVersion = certificate.version;
  theirs.ownerId = orgB.users.owner.userId;
  const policy = await ok(bOwner, 'policy.create', { projectId: theirs.projectId, slug: 'their-policy', name: 'Their policy', certificateId: theirs.certificateId });
  theirs.policyId = policy.id;
  theirs.policyVersion = policy.version;
  theirs.buildSystemId = (await ok(bOwner, 'buildSystem.create', { name: 'Their CI', issuer: 'https://their-ci.example.com', audience: 'signet', jwksUrl: 'https://their-ci.example.com/jwks' })).id;
  theirs.webhookId = (await ok(bOwner, 'webhook.create', { projectId: theirs.projectId, url: 'https://their.example.com/hook' })).webhook.id;
  theirs.chatChannelId = (await ok(bOwner, 'chatChannel.create', { projectId: theirs.projectId, service: 'slack', name: '#theirs', url: 'https://their.example.com/chat' })).id;
});

// ---------------------------------------------------------------------------------------------

describe('who may write what', () => {
  /** Each writing command with an input that is valid for everyone, so only the permission decides. */
  const table: Array<{ name: string; permission: Permission; input: (role: Role) => Promise<Record<string, unknown>> }> = [
    { name: 'project.create', permission: 'config:write', input: async (role) => ({ slug: `by-${role}`, name: `Made by ${role}` }) },
    {
      name: 'project.update',
      permission: 'config:write',
      input: async (role) => {
        const { project } = await newProject(as.owner);
        return { projectId: project.id, version: project.version, description: `edited by ${role}` };
      },
    },
    {
      name: 'project.delete',
      permission: 'project:delete',
      input: async () => {
        const { project } = await newProject(as.owner);
        return { projectId: project.id, confirmSlug: project.slug };
      },
    },
    {
      name: 'artifactConfig.create',
      permission: 'config:write',
      input: async (role) => ({ projectId: (await newProject(as.owner)).project.id, slug: `cfg-${role}`, name: 'Installers', fileNamePattern: '*.msi' }),
    },
    {
      name: 'artifactConfig.update',
      permission: 'config:write',
      input: async () => {
        const { project } = await newProject(as.owner);
        const config = await ok(as.owner, 'artifactConfig.create', { projectId: project.id, slug: 'extra', name: 'Extra' });
        return { artifactConfigId: config.id, version: config.version, maxSizeBytes: 1024 };
      },
    },
    {
      name: 'artifactConfig.delete',
      permission: 'config:write',
      input: async () => {
        const { project } = await newProject(as.owner);
        return { artifactConfigId: (await ok(as.owner, 'artifactConfig.create', { projectId: project.id, slug: 'extra', name: 'Extra' })).id };
      },
    },
    {
      name: 'webhook.create',
      permission: 'config:write',
      input: async (role) => ({ projectId: (await newProject(as.owner)).project.id, url: `https://hooks.example.com/${role}` }),
    },
    {
      name: 'webhook.update',
      permission: 'config:write',
      input: async () => {
        const { project } = await newProject(as.owner);
        const { webhook } = await ok(as.owner, 'webhook.create', { projectId: project.id, url: 'https://hooks.example.com/x' });
        return { webhookId: webhook.id, version: webhook.version, events: ['request.waitingForApproval'] };
      },
    },
    {
      name: 'webhook.delete',
      permission: 'config:write',
      input: async () => {
        const { project } = await newProject(as.owner);
        return { webhookId: (await ok(as.owner, 'webhook.create', { projectId: project.id, url: 'https://hooks.example.com/x' })).webhook.id };
      },
    },
    {
      name: 'chatChannel.create',
      permission: 'config:write',
      input: async (role) => ({ projectId: (await newProject(as.owner)).project.id, service: 'mattermost', name: `#${role}`, url: `https://chat.example.com/hooks/${role}` }),
    },
    {
      name: 'chatChannel.delete',
      permission: 'config:write',
      input: async () => {
        const { project } = await newProject(as.owner);
        return { chatChannelId: (await ok(as.owner, 'chatChannel.create', { projectId: project.id, service: 'teams', name: '#x', url: 'https://chat.example.com/x' })).id };
      },
    },
    {
      name: 'certificate.generate',
      permission: 'certificate:write',
      input: async (role) => ({ slug: `gen-${role}`, name: 'Generated', type: 'test', commonName: `Test ${role}` }),
    },
    {
      name: 'certificate.import',
      permission: 'certificate:write',
      input: async (role) => ({ slug: `imp-${role}`, name: 'Imported', type: 'release', format: 'pem', certificatePem: material.certificatePem, privateKeyPem: material.privateKeyPem }),
    },
    {
      name: 'certificate.update',
      permission: 'certificate:write',
      input: async (role) => {
        const certificate = await newCertificate(as.owner);
        return { certificateId: certificate.id, version: certificate.version, name: `Renamed by ${role}` };
      },
    },
    {
      name: 'policy.create',
      permission: 'policy:write',
      input: async (role) => ({
        projectId: (await newProject(as.owner)).project.id,
        slug: `pol-${role}`,
        name: 'Policy',
        certificateId: (await newCertificate(as.owner)).id,
        submitters: [fx.org.users.member.userId],
        approvers: [fx.org.users.member.userId],
        requiredApprovals: 1,
      }),
    },
    {
      name: 'policy.update',
      permission: 'policy:write',
      input: async () => {
        const { project } = await newProject(as.owner);
        const policy = await ok(as.owner, 'policy.create', { projectId: project.id, slug: 'pp', name: 'P', certificateId: (await newCertificate(as.owner)).id });
        return { policyId: policy.id, version: policy.version, approvers: [fx.org.users.member.userId], requiredApprovals: 1 };
      },
    },
    {
      name: 'policy.delete',
      permission: 'policy:write',
      input: async () => {
        const { project } = await newProject(as.owner);
        return { policyId: (await ok(as.owner, 'policy.create', { projectId: project.id, slug: 'pp', name: 'P', certificateId: (await newCertificate(as.owner)).id })).id };
      },
    },
    {
      name: 'buildSystem.create',
      permission: 'policy:write',
      input: async (role) => ({ name: `CI of ${role}`, issuer: `https://ci-${role}.example.com`, audience: 'signet', jwksUrl: `https://ci-${role}.example.com/jwks` }),
    },
    {
      name: 'buildSystem.delete',
      permission: 'policy:write',
      input: async (role) => ({
        buildSystemId: (await ok(as.owner, 'buildSystem.create', { name: 'Doomed CI', issuer: `https://doomed-${role}.example.com`, audience: 'signet', jwksUrl: 'https://doomed.example.com/jwks' })).id,
      }),
    },
  ];

  it('the table matches the spec: members configure projects, only admins policies and certificates, only the owner deletes projects', () => {
    const who = (permission: Permission) => ROLES.filter((role) => roleHas(role, permission));
    expect(who('config:write')).toEqual(['owner', 'admin', 'member']);
    expect(who('policy:write')).toEqual(['owner', 'admin']);
    expect(who('certificate:write')).toEqual(['owner', 'admin']);
    expect(who('project:delete')).toEqual(['owner']);
    expect(who('config:read')).toEqual(['owner', 'admin', 'member', 'viewer']);
  });

  for (const { name, permission, input } of table) {
    it(`${name}: allowed exactly for the roles with ${permission}`, async () => {
      for (const role of ROLES) {
        const ack = await command(as[role], name, await input(role));
        replies.push(ack);
        if (roleHas(role, permission)) {
          expect(ack.error, `${role} running ${name}`).toBeUndefined();
          expect(ack.ok).toBe(true);
        } else {
          expect(ack.ok, `${role} running ${name}`).toBe(false);
          expect(ack.error?.code).toBe('FORBIDDEN');
          expect(ack.error?.message).toContain(permission);
        }
      }
    });
  }

  it('every role can read the configuration (config:read)', async () => {
    const { project } = await newProject(as.owner);
    for (const role of ROLES) {
      for (const [name, input] of [
        ['project.list', {}],
        ['project.get', { projectId: project.id }],
        ['artifactConfig.list', { projectId: project.id }],
        ['certificate.list', {}],
        ['policy.list', {}],
        ['buildSystem.list', {}],
        ['webhook.list', { projectId: project.id }],
        ['chatChannel.list', { projectId: project.id }],
      ] as const) {
        const ack = await command(as[role], name, input);
        expect(ack.error, `${role} running ${name}`).toBeUndefined();
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('another organization’s ids, and unknown ids, are not found', () => {
  const cases: Array<[name: string, input: () => Record<string, unknown>, unknown: Record<string, unknown>]> = [
    ['project.get', () => ({ projectId: theirs.projectId }), { projectId: 'no-such-project' }],
    ['project.update', () => ({ projectId: theirs.projectId, version: theirs.projectVersion, name: 'Hijacked' }), { projectId: 'no-such-project', version: 1, name: 'x' }],
    ['project.delete', () => ({ projectId: theirs.projectId, confirmSlug: 'theirs' }), { projectId: 'no-such-project', confirmSlug: 'theirs' }],
    ['artifactConfig.list', () => ({ projectId: theirs.projectId }), { projectId: 'no-such-project' }],
    ['artifactConfig.create', () => ({ projectId: theirs.projectId, slug: 'planted', name: 'Planted' }), { projectId: 'no-such-project', slug: 'planted', name: 'Planted' }],
    ['artifactConfig.update', () => ({ artifactConfigId: theirs.configId, version: theirs.configVersion, name: 'Hijacked' }), { artifactConfigId: 'nope', version: 1, name: 'x' }],
    ['artifactConfig.delete', () => ({ artifactConfigId: theirs.configId }), { artifactConfigId: 'nope' }],
    ['certificate.update', () => ({ certificateId: theirs.certificateId, version: theirs.certificateVersion, disabled: true }), { certificateId: 'nope', version: 1, disabled: true }],
    ['policy.list', () => ({ projectId: theirs.projectId }), { projectId: 'no-such-project' }],
    [
      'policy.create',
      () => ({ projectId: theirs.projectId, slug: 'planted', name: 'Planted', certificateId: theirs.certificateId }),
      { projectId: 'no-such-project', slug: 'planted', name: 'Planted', certificateId: 'nope' },
    ],
    ['policy.update', () => ({ policyId: theirs.policyId, version: theirs.policyVersion, submitters: [fx.org.users.owner.userId] }), { policyId: 'nope', version: 1, name: 'x' }],
    ['policy.delete', () => ({ policyId: theirs.policyId }), { policyId: 'nope' }],
    ['buildSystem.delete', () => ({ buildSystemId: theirs.buildSystemId }), { buildSystemId: 'nope' }],
    ['webhook.list', () => ({ projectId: theirs.projectId }), { projectId: 'no-such-project' }],
    ['webhook.create', () => ({ projectId: theirs.projectId, url: 'https://evil.example.com/hook' }), { projectId: 'no-such-project', url: 'https://evil.example.com/hook' }],
    ['webhook.update', () => ({ webhookId: theirs.webhookId, version: 1, events: ['request.waitingForApproval'] }), { webhookId: 'nope', version: 1, events: ['request.completed'] }],
    ['webhook.delete', () => ({ webhookId: theirs.webhookId }), { webhookId: 'nope' }],
    ['chatChannel.list', () => ({ projectId: theirs.projectId }), { projectId: 'no-such-project' }],
    [
      'chatChannel.create',
      () => ({ projectId: theirs.projectId, service: 'slack', name: '#planted', url: 'https://evil.example.com/chat' }),
      { projectId: 'no-such-project', service: 'slack', name: '#planted', url: 'https://evil.example.com/chat' },
    ],
    ['chatChannel.delete', () => ({ chatChannelId: theirs.chatChannelId }), { chatChannelId: 'nope' }],
  ];

  for (const [name, foreign, unknown] of cases) {
    it(`${name}: NOT_FOUND for an unknown id and for one of another organization, and nothing changes`, async () => {
      const before = await stateExceptAudit();
      await refused(as.owner, name, unknown, 'NOT_FOUND');
      const error = await refused(as.owner, name, foreign(), 'NOT_FOUND');
      // The refusal does not reveal the other organization's entity.
      expect(JSON.stringify(error)).not.toMatch(/theirs|Their/);
      expect(await stateExceptAudit()).toEqual(before);
    });
  }

  it('lists show only the organization’s own entities', async () => {
    const mine = await newProject(as.admin);
    const ids = (list: Array<{ id: string }>) => list.map((entry) => entry.id);
    expect(ids(await ok(as.viewer, 'project.list'))).toContain(mine.project.id);
    expect(ids(await ok(as.viewer, 'project.list'))).not.toContain(theirs.projectId);
    expect(ids(await ok(as.viewer, 'certificate.list'))).not.toContain(theirs.certificateId);
    expect(ids(await ok(as.viewer, 'policy.list'))).not.toContain(theirs.policyId);
    expect(ids(await ok(as.viewer, 'buildSystem.list'))).not.toContain(theirs.buildSystemId);
    expect(ids(await ok(bOwner, 'project.list'))).not.toContain(mine.project.id);
  });
});

// ---------------------------------------------------------------------------------------------

describe('project.*', () => {
  it('project.create makes the project with a default artifact configuration; a viewer sees both live', async () => {
    const projectSeen = changeSeen(as.viewer, 'project', 'created', (event) => slugOf(event) === 'web-app');
    const configSeen = changeSeen(as.viewer, 'artifactConfig', 'created');
    const { project, defaultArtifactConfig } = await ok(as.admin, 'project.create', {
      slug: 'web-app',
      name: 'Web App',
      repositoryUrl: 'https://github.com/example/web-app',
      description: 'the web front end',
    });
    expect(project).toMatchObject({ slug: 'web-app', name: 'Web App', status: 'active', repositoryUrl: 'https://github.com/example/web-app', orgId: fx.org.orgId, version: 1 });
    expect(defaultArtifactConfig).toMatchObject({ projectId: project.id, isDefault: true });

    const projectEvent = await projectSeen;
    expect(projectEvent).toMatchObject({ id: project.id, version: 1, data: { slug: 'web-app' } });
    expect(projectEvent.seq).toBeGreaterThan(0);
    expect((await configSeen).id).toBe(defaultArtifactConfig.id);

    const got = await ok(as.viewer, 'project.get', { projectId: project.id });
    expect(got.project).toEqual(project);
    expect(got.artifactConfigs).toEqual([defaultArtifactConfig]);
    expect(await ok(as.viewer, 'artifactConfig.list', { projectId: project.id })).toEqual([defaultArtifactConfig]);
    expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({ action: 'project.create', outcome: 'ok', target: { type: 'project', id: project.id } });
  });

  it('a member creates a project without a repository URL; with one it is FORBIDDEN naming policy:write, audited, nothing created', async () => {
    const without = await ok(as.member, 'project.create', { slug: freshSlug('no-url'), name: 'No URL yet' });
    expect(without.project.repositoryUrl).toBeNull();

    const before = await stateExceptAudit();
    const slug = freshSlug('anchored');
    const error = await refused(as.member, 'project.create', { slug, name: 'Anchored', repositoryUrl: 'https://github.com/mallory/fork' }, 'FORBIDDEN');
    expect(error.message).toContain('policy:write');
    expect(await stateExceptAudit()).toEqual(before);
    expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({
      action: 'project.create',
      outcome: 'denied',
      actor: { id: fx.org.users.member.userId },
      reason: expect.stringContaining('repository URL'),
    });
    expect((await ok<any[]>(as.member, 'project.list')).map((p) => p.slug)).not.toContain(slug);
  });

  it('a member cannot set, change or clear the repository URL: FORBIDDEN, audited, and no other field of the update is applied', async () => {
    const { project } = await newProject(as.admin, { repositoryUrl: 'https://github.com/example/anchor' });
    const bare = (await newProject(as.admin)).project;
    const attempts = [
      { projectId: project.id, version: project.version, repositoryUrl: 'https://github.com/mallory/fork', description: 'moved' },
      { projectId: project.id, version: project.version, repositoryUrl: null, name: 'Cleared' },
      { projectId: bare.id, version: bare.version, repositoryUrl: 'https://github.com/mallory/fork', status: 'inactive' },
    ];
    for (const input of attempts) {
      const before = await stateExceptAudit();
      const error = await refused(as.member, 'project.update', input, 'FORBIDDEN');
      expect(error.message).toContain('policy:write');
      expect(await stateExceptAudit()).toEqual(before);
      expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({ action: 'project.update', outcome: 'denied', actor: { id: fx.org.users.member.userId } });
    }
    expect((await ok(as.viewer, 'project.get', { projectId: project.id })).project).toEqual(project);

    // The rest of the metadata stays the member's to edit, also when the unchanged URL is sent along.
    const edited = await ok(as.member, 'project.update', { projectId: project.id, version: project.version, description: 'edited', repositoryUrl: project.repositoryUrl });
    expect(edited).toMatchObject({ description: 'edited', repositoryUrl: 'https://github.com/example/anchor', version: project.version + 1 });
  });

  it('an admin sets, changes and clears the repository URL; a key without policy:write cannot, even the owner\'s', async () => {
    const { project } = await newProject(as.member);
    const set = await ok(as.admin, 'project.update', { projectId: project.id, version: project.version, repositoryUrl: 'https://github.com/example/set' });
    expect(set.repositoryUrl).toBe('https://github.com/example/set');
    const changed = await ok(as.owner, 'project.update', { projectId: project.id, version: set.version, repositoryUrl: 'https://github.com/example/moved' });
    expect(changed.repositoryUrl).toBe('https://github.com/example/moved');

    const { token } = await ok(as.owner, 'apiKey.create', { name: 'config only', permissions: ['config:read', 'config:write'] });
    const keySocket = await open({ token });
    await refused(keySocket, 'project.update', { projectId: project.id, version: changed.version, repositoryUrl: 'https://github.com/mallory/fork' }, 'FORBIDDEN');
    await refused(keySocket, 'project.create', { slug: freshSlug('by-key'), name: 'By key', repositoryUrl: 'https://github.com/mallory/fork' }, 'FORBIDDEN');

    const cleared = await ok(as.admin, 'project.update', { projectId: project.id, version: changed.version, repositoryUrl: null });
    expect(cleared).toMatchObject({ repositoryUrl: null, version: changed.version + 1 });
    expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({
      action: 'project.update',
      outcome: 'ok',
      changes: { repositoryUrl: { before: 'https://github.com/example/moved', after: null } },
    });
  });

  it('a duplicate slug is CONFLICT, on create and on a rename', async () => {
    const { project } = await newProject(as.member, { slug: 'taken-slug' });
    const other = (await newProject(as.member)).project;
    const before = await stateExceptAudit();
    await refused(as.member, 'project.create', { slug: 'taken-slug', name: 'Again' }, 'CONFLICT');
    await refused(as.member, 'project.update', { projectId: other.id, version: other.version, slug: project.slug }, 'CONFLICT');
    expect(await stateExceptAudit()).toEqual(before);
    // The same slug in another organization is fine.
    expect((await ok(bOwner, 'project.create', { slug: 'taken-slug', name: 'Theirs too' })).project.slug).toBe('taken-slug');
  });

  it('project.update bumps the version; a stale version is CONFLICT with the current project', async () => {
    const { project } = await newProject(as.member);
    const updatedSeen = changeSeen(as.viewer, 'project', 'updated', (event) => event.id === project.id);
    const updated = await ok(as.admin, 'project.update', { projectId: project.id, version: 1, name: 'Renamed', status: 'inactive', slug: `${project.slug}-renamed` });
    expect(updated).toMatchObject({ id: project.id, name: 'Renamed', status: 'inactive', slug: `${project.slug}-renamed`, version: 2 });
    expect(await updatedSeen).toMatchObject({ version: 2, data: { name: 'Renamed' } });

    const before = await stateExceptAudit();
    const error = await refused(as.member, 'project.update', { projectId: project.id, version: 1, name: 'Overwrite' }, 'CONFLICT');
    expect(error.current).toEqual(updated);
    expect(await stateExceptAudit()).toEqual(before);
    // The renamed slug resolves, the old one is free again.
    expect((await newProject(as.member, { slug: project.slug })).project.slug).toBe(project.slug);
  });

  it('project.delete is the owner’s alone and needs the slug typed to confirm', async () => {
    const { project } = await newProject(as.member);
    await refused(as.admin, 'project.delete', { projectId: project.id, confirmSlug: project.slug }, 'FORBIDDEN');

    const before = await stateExceptAudit();
    await invalidField(as.owner, 'project.delete', { projectId: project.id, confirmSlug: 'wrong-slug' }, 'confirmSlug');
    await invalidField(as.owner, 'project.delete', { projectId: project.id }, 'confirmSlug');
    expect(await stateExceptAudit()).toEqual(before);

    const deletedSeen = changeSeen(as.viewer, 'project', 'deleted', (event) => event.id === project.id);
    expect(await ok(as.owner, 'project.delete', { projectId: project.id, confirmSlug: project.slug })).toEqual({ deleted: project.id });
    await deletedSeen;
    await refused(as.viewer, 'project.get', { projectId: project.id }, 'NOT_FOUND');
    expect((await ok<any[]>(as.viewer, 'project.list')).map((p) => p.id)).not.toContain(project.id);
    expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({ action: 'project.delete', outcome: 'ok', actor: { id: fx.org.users.owner.userId } });
  });
});

// ---------------------------------------------------------------------------------------------

describe('artifactConfig.*', () => {
  it('a member adds a configuration; making it the default un-defaults the old one, live', async () => {
    const { project, defaultArtifactConfig: oldDefault } = await newProject(as.member);
    const plain = await ok(as.member, 'artifactConfig.create', { projectId: project.id, slug: 'jars', name: 'Jars', fileNamePattern: '**/*.jar', maxSizeBytes: 5_000_000 });
    expect(plain).toMatchObject({ slug: 'jars', isDefault: false, fileNamePattern: '**/*.jar', maxSizeBytes: 5_000_000, signatureFormat: 'cms-detached', version: 1 });

    const undefaulted = changeSeen(as.viewer, 'artifactConfig', 'updated', (event) => event.id === oldDefault.id);
    const created = await ok(as.member, 'artifactConfig.create', { projectId: project.id, slug: 'exes', name: 'Executables', fileNamePattern: '*.exe', isDefault: true });
    expect(created.isDefault).toBe(true);
    expect(await undefaulted).toMatchObject({ version: oldDefault.version + 1, data: { isDefault: false } });
    const defaults = (list: any[]) => list.filter((c) => c.isDefault).map((c) => c.id);
    expect(defaults(await ok(as.viewer, 'artifactConfig.list', { projectId: project.id }))).toEqual([created.id]);

    // And through an update.
    const version = (await ok<any[]>(as.viewer, 'artifactConfig.list', { projectId: project.id })).find((c) => c.id === plain.id).version;
    const promoted = await ok(as.member, 'artifactConfig.update', { artifactConfigId: plain.id, version, isDefault: true });
    expect(promoted).toMatchObject({ isDefault: true, version: version + 1 });
    const list = await ok<any[]>(as.viewer, 'artifactConfig.list', { projectId: project.id });
    expect(defaults(list)).toEqual([plain.id]);
    expect(list.find((c) => c.id === created.id)).toMatchObject({ isDefault: false, version: created.version + 1 });
  });

  it('deleting the default configuration is CONFLICT; deleting another one works', async () => {
    const { project, defaultArtifactConfig } = await newProject(as.member);
    const extra = await ok(as.member, 'artifactConfig.create', { projectId: project.id, slug: 'extra', name: 'Extra' });
    const before = await stateExceptAudit();
    await refused(as.member, 'artifactConfig.delete', { artifactConfigId: defaultArtifactConfig.id }, 'CONFLICT');
    expect(await stateExceptAudit()).toEqual(before);

    const deletedSeen = changeSeen(as.viewer, 'artifactConfig', 'deleted', (event) => event.id === extra.id);
    expect(await ok(as.member, 'artifactConfig.delete', { artifactConfigId: extra.id })).toEqual({ deleted: extra.id });
    await deletedSeen;
    expect((await ok<any[]>(as.viewer, 'artifactConfig.list', { projectId: project.id })).map((c) => c.id)).toEqual([defaultArtifactConfig.id]);
  });

  it('a duplicate slug within the project is CONFLICT; a stale version is CONFLICT with the current configuration', async () => {
    const { project } = await newProject(as.member);
    const config = await ok(as.member, 'artifactConfig.create', { projectId: project.id, slug: 'dup', name: 'Dup' });
    const before = await stateExceptAudit();
    await refused(as.member, 'artifactConfig.create', { projectId: project.id, slug: 'dup', name: 'Dup again' }, 'CONFLICT');
    await refused(as.member, 'artifactConfig.create', { projectId: project.id, slug: 'default', name: 'Default again' }, 'CONFLICT');
    expect(await stateExceptAudit()).toEqual(before);
    // Slugs are per project.
    expect((await ok(as.member, 'artifactConfig.create', { projectId: (await newProject(as.member)).project.id, slug: 'dup', name: 'Dup' })).slug).toBe('dup');

    const updated = await ok(as.admin, 'artifactConfig.update', { artifactConfigId: config.id, version: 1, name: 'Renamed' });
    expect(updated).toMatchObject({ name: 'Renamed', version: 2 });
    const error = await refused(as.member, 'artifactConfig.update', { artifactConfigId: config.id, version: 1, fileNamePattern: '*.zip' }, 'CONFLICT');
    expect(error.current).toEqual(updated);
  });
});

// ---------------------------------------------------------------------------------------------

describe('certificate.*', () => {
  const generated: any[] = [];

  for (const algorithm of ['RSA-2048', 'RSA-3072', 'ECDSA-P256'] as const) {
    it(`certificate.generate ${algorithm}: subject, issuer, fingerprint, validity and the public certificate — no private key`, async () => {
      const slug = `gen-${algorithm.toLowerCase()}`;
      const seen = changeSeen(as.viewer, 'certificate', 'created', (event) => slugOf(event) === slug);
      const certificate = await ok(as.admin, 'certificate.generate', {
        slug,
        name: `Generated ${algorithm}`,
        type: 'release',
        algorithm,
        commonName: 'Example Release Signing',
        organization: 'Example Corp',
        validDays: 30,
      });
      generated.push(certificate);
      expect(certificate).toMatchObject({ slug, type: 'release', source: 'generated', algorithm, disabled: false, version: 1, orgId: fx.org.orgId });
      expect(certificate.subject).toContain('CN=Example Release Signing');
      expect(certificate.subject).toContain('O=Example Corp');
      expect(certificate.issuer).toBe(certificate.subject);
      expect(certificate.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);

      const x509 = new X509Certificate(certificate.certificatePem);
      expect(certificate.fingerprintSha256).toBe(x509.fingerprint256);
      expect(Date.parse(certificate.notAfter)).toBe(Date.parse(x509.validTo));
      const days = (Date.parse(certificate.notAfter) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(29.9);
      expect(days).toBeLessThan(30.1);
      expect(x509.publicKey.asymmetricKeyType).toBe(algorithm.startsWith('RSA') ? 'rsa' : 'ec');
      if (algorithm.startsWith('RSA')) expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(Number(algorithm.slice(4)));

      expect(Object.keys(certificate)).not.toContain('sealedPrivateKey');
      expect(JSON.stringify(certificate)).not.toContain('PRIVATE KEY');
      expect((await seen).data).toEqual(certificate);
      expect((await ok<any[]>(as.viewer, 'certificate.list')).find((c) => c.id === certificate.id)).toEqual(certificate);
    });
  }

  it('the stored record keeps the private key sealed: it opens under the master key to the certificate’s key, bound to its id', async () => {
    for (const certificate of generated) {
      const raw = (await fx.node.signet.redis.get(fx.node.signet.keys.certificate(certificate.id)))!;
      expect(raw).not.toContain('PRIVATE KEY');
      const sealed = JSON.parse(raw).sealedPrivateKey as SealedKey;
      expect(sealed).toMatchObject({ alg: 'A256GCM', iv: expect.any(String), tag: expect.any(String), ciphertext: expect.any(String) });
      const der = openPrivateKey(fx.node.signet.config.masterKey, sealed, certificate.id);
      const publicKey = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
      expect(publicKey.export({ format: 'der', type: 'spki' })).toEqual(new X509Certificate(certificate.certificatePem).publicKey.export({ format: 'der', type: 'spki' }));
      expect(sealed.ciphertext).not.toContain(der.toString('base64'));
      expect(Buffer.from(sealed.ciphertext, 'base64').includes(der)).toBe(false);
      // Bound to this certificate: under another id it does not open.
      expect(() => openPrivateKey(fx.node.signet.config.masterKey, sealed, generated.find((c) => c.id !== certificate.id)!.id)).toThrow();
    }
  });

  it('certificate.import (PEM) stores the certificate and its sealed key; the PKCS#8 key is nowhere in the clear', async () => {
    const certificate = await ok(as.admin, 'certificate.import', {
      slug: 'imported-pem',
      name: 'Imported PEM',
      type: 'release',
      format: 'pem',
      certificatePem: material.certificatePem,
      privateKeyPem: material.privateKeyPem,
    });
    expect(certificate).toMatchObject({ slug: 'imported-pem', source: 'imported', algorithm: 'RSA-2048', disabled: false, version: 1 });
    expect(certificate.subject).toContain('CN=x');
    expect(certificate.fingerprintSha256).toBe(new X509Certificate(material.certificatePem).fingerprint256);
    expect(JSON.stringify(certificate)).not.toContain('PRIVATE KEY');

    const raw = (await fx.node.signet.redis.get(fx.node.signet.keys.certificate(certificate.id)))!;
    const sealed = JSON.parse(raw).sealedPrivateKey as SealedKey;
    expect(sealed.ciphertext.length).toBeGreaterThan(0);
    expect(sealed.ciphertext).not.toContain(material.pkcs8DerBase64);
    expect(Buffer.from(sealed.ciphertext, 'base64').includes(Buffer.from(material.pkcs8DerBase64, 'base64'))).toBe(false);
    expect(raw).not.toContain(material.pkcs8DerBase64);
    expect(raw).not.toContain('PRIVATE KEY');
    // What is sealed is exactly the key that was imported.
    expect(openPrivateKey(fx.node.signet.config.masterKey, sealed, certificate.id).toString('base64')).toBe(material.pkcs8DerBase64);
  });

  it('certificate.import (PEM) with a key that does not match is INVALID_INPUT naming privateKeyPem, and stores nothing', async () => {
    const before = await stateExceptAudit();
    const error = await invalidField(
      as.admin,
      'certificate.import',
      { slug: 'mismatched', name: 'Mismatched', type: 'test', format: 'pem', certificatePem: material.certificatePem, privateKeyPem: otherMaterial.privateKeyPem },
      'privateKeyPem',
    );
    expect(error.message).toMatch(/does not match/);
    expect(JSON.stringify(error)).not.toContain('PRIVATE KEY');
    expect(await stateExceptAudit()).toEqual(before);
  });

  it('certificate.import (PKCS#12) works with the right password; a wrong one is INVALID_INPUT that says so', async () => {
    const before = await stateExceptAudit();
    const error = await refused(
      as.admin,
      'certificate.import',
      { slug: 'imported-p12', name: 'Imported P12', type: 'release', format: 'pkcs12', pkcs12Base64: material.pkcs12Base64, password: 'not the password' },
      'INVALID_INPUT',
    );
    expect(error.message).toMatch(/password/i);
    expect(error.issues?.length).toBeGreaterThan(0);
    expect(JSON.stringify(error)).not.toContain('not the password');
    expect(await stateExceptAudit()).toEqual(before);

    const certificate = await ok(as.owner, 'certificate.import', {
      slug: 'imported-p12',
      name: 'Imported P12',
      type: 'release',
      format: 'pkcs12',
      pkcs12Base64: material.pkcs12Base64,
      password: material.pkcs12Password,
    });
    expect(certificate).toMatchObject({ slug: 'imported-p12', source: 'imported', algorithm: 'RSA-2048' });
    expect(certificate.fingerprintSha256).toBe(new X509Certificate(material.certificatePem).fingerprint256);
    const sealed = JSON.parse((await fx.node.signet.redis.get(fx.node.signet.keys.certificate(certificate.id)))!).sealedPrivateKey as SealedKey;
    expect(sealed.ciphertext).not.toContain(material.pkcs8DerBase64);
    expect(openPrivateKey(fx.node.signet.config.masterKey, sealed, certificate.id).toString('base64')).toBe(material.pkcs8DerBase64);
  });

  it('a duplicate certificate slug is CONFLICT', async () => {
    const before = await stateExceptAudit();
    await refused(as.admin, 'certificate.generate', { slug: 'gen-ecdsa-p256', name: 'Again', type: 'test', commonName: 'Test Again' }, 'CONFLICT');
    await refused(
      as.admin,
      'certificate.import',
      { slug: 'imported-pem', name: 'Again', type: 'test', format: 'pem', certificatePem: material.certificatePem, privateKeyPem: material.privateKeyPem },
      'CONFLICT',
    );
    expect(await stateExceptAudit()).toEqual(before);
  });

  it('certificate.update disabled:true is audited as certificate.disable; a stale version is CONFLICT with the current certificate', async () => {
    const certificate = await newCertificate(as.admin);
    const seen = changeSeen(as.viewer, 'certificate', 'updated', (event) => event.id === certificate.id);
    const disabled = await ok(as.admin, 'certificate.update', { certificateId: certificate.id, version: 1, disabled: true });
    expect(disabled).toMatchObject({ id: certificate.id, disabled: true, version: 2 });
    expect(Object.keys(disabled)).not.toContain('sealedPrivateKey');
    expect(await seen).toMatchObject({ version: 2, data: { disabled: true } });
    expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({
      action: 'certificate.disable',
      outcome: 'ok',
      target: { type: 'certificate', id: certificate.id },
      changes: { disabled: { before: false, after: true } },
    });

    const error = await refused(as.admin, 'certificate.update', { certificateId: certificate.id, version: 1, name: 'Stale rename' }, 'CONFLICT');
    expect(error.current).toEqual(disabled);

    const renamed = await ok(as.admin, 'certificate.update', { certificateId: certificate.id, version: 2, name: 'Renamed' });
    expect(renamed).toMatchObject({ name: 'Renamed', disabled: true, version: 3 });
    expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({ action: 'certificate.update' });
  });

  it('no result, no event an admin received and no audit entry carries a private key or its sealed form', async () => {
    const records = (await ok<any[]>(as.admin, 'certificate.list')).map((certificate) => certificate.id);
    expect(records.length).toBeGreaterThanOrEqual(6);
    const sealedValues: string[] = [];
    for (const id of records) {
      const sealed = JSON.parse((await fx.node.signet.redis.get(fx.node.signet.keys.certificate(id)))!).sealedPrivateKey as SealedKey;
      sealedValues.push(sealed.ciphertext, sealed.iv, sealed.tag);
    }
    const keyBody = material.privateKeyPem.split('\n')[1]!;
    const haystacks = {
      results: JSON.stringify(replies),
      adminEvents: JSON.stringify(as.admin.received),
      viewerEvents: JSON.stringify(as.viewer.received),
      auditLog: JSON.stringify(await auditLog(fx.node, fx.org.orgId)),
    };
    expect(as.admin.received.some((event) => event.event === 'audit' && event.data.entry.target.type === 'certificate')).toBe(true);
    expect(as.admin.received.some((event) => event.event === 'change' && event.data.entity === 'certificate')).toBe(true);
    for (const [where, text] of Object.entries(haystacks)) {
      expect(text, where).not.toContain('PRIVATE KEY');
      expect(text, where).not.toContain('sealedPrivateKey');
      expect(text, where).not.toContain(material.pkcs8DerBase64.slice(0, 200));
      expect(text, where).not.toContain(keyBody);
      expect(text, where).not.toContain(otherMaterial.privateKeyPem.split('\n')[1]!);
      for (const value of sealedValues) expect(text, where).not.toContain(value);
    }
    // Nor does the audit log keep what was uploaded to import (PKCS#12 file, password).
    expect(haystacks.auditLog).not.toContain(material.pkcs12Base64.slice(0, 200));
    expect(haystacks.auditLog).not.toContain('not the password');
  });
});

// ---------------------------------------------------------------------------------------------

describe('policy.*', () => {
  let project: any;
  let bareProject: any;
  let certificateId = '';
  let ciUserId = '';

  beforeAll(async () => {
    project = (await newProject(as.admin, { repositoryUrl: 'https://github.com/example/policies' })).project;
    bareProject = (await newProject(as.admin)).project;
    certificateId = (await newCertificate(as.admin)).id;
    ciUserId = (await ok(as.admin, 'ciUser.create', { name: 'Policy Bot' })).ciUser.userId;
  });

  const base = () => ({
    projectId: project.id,
    name: 'Release signing',
    certificateId,
    submitters: [ciUserId, fx.org.users.member.userId],
    approvers: [fx.org.users.admin.userId, fx.org.users.member.userId],
    requiredApprovals: 2,
    originVerification: true,
    allowedBranches: ['main', 'release/*'],
  });

  it('an admin creates a policy naming CI users and people; a viewer sees it live', async () => {
    const seen = changeSeen(as.viewer, 'policy', 'created', (event) => slugOf(event) === 'release');
    const policy = await ok(as.admin, 'policy.create', { ...base(), slug: 'release' });
    expect(policy).toMatchObject({ ...base(), slug: 'release', version: 1, orgId: fx.org.orgId });
    expect((await seen).data).toEqual(policy);
    expect((await ok<any[]>(as.viewer, 'policy.list', { projectId: project.id })).map((p) => p.id)).toContain(policy.id);
    expect((await ok(as.viewer, 'project.get', { projectId: project.id })).policies).toEqual([policy]);
  });

  const invalidCases: Array<[what: string, field: string, input: () => Record<string, unknown>]> = [
    ['a certificate of another organization', 'certificateId', () => ({ ...base(), certificateId: theirs.certificateId })],
    ['an unknown certificate', 'certificateId', () => ({ ...base(), certificateId: 'no-such-certificate' })],
    ['a submitter who is not a member', 'submitters', () => ({ ...base(), submitters: [theirs.ownerId] })],
    ['a viewer as submitter', 'submitters', () => ({ ...base(), submitters: [fx.org.users.viewer.userId] })],
    ['a viewer as approver', 'approvers', () => ({ ...base(), approvers: [fx.org.users.admin.userId, fx.org.users.viewer.userId] })],
    ['a CI user as approver', 'approvers', () => ({ ...base(), approvers: [fx.org.users.admin.userId, ciUserId] })],
    ['an approver who is not a member', 'approvers', () => ({ ...base(), approvers: [fx.org.users.admin.userId, theirs.ownerId] })],
    ['more required approvals than approvers', 'requiredApprovals', () => ({ ...base(), requiredApprovals: 3 })],
    ['origin verification on a project without a repository URL', 'originVerification', () => ({ ...base(), projectId: bareProject.id })],
  ];

  for (const [what, field, input] of invalidCases) {
    it(`policy.create with ${what} is INVALID_INPUT naming ${field}, and creates nothing`, async () => {
      const before = await stateExceptAudit();
      const auditBefore = (await auditLog(fx.node, fx.org.orgId)).length;
      await invalidField(as.admin, 'policy.create', { ...input(), slug: 'invalid' }, field);
      expect(await stateExceptAudit()).toEqual(before);
      expect(await auditLog(fx.node, fx.org.orgId)).toHaveLength(auditBefore);
    });
  }

  it('policy.update re-checks the rules: a viewer as approver or too high a quorum is refused, naming the field', async () => {
    const policy = await ok(as.admin, 'policy.create', { ...base(), slug: freshSlug('strict') });
    const before = await stateExceptAudit();
    await invalidField(as.admin, 'policy.update', { policyId: policy.id, version: 1, approvers: [fx.org.users.viewer.userId] , requiredApprovals: 1 }, 'approvers');
    await invalidField(as.admin, 'policy.update', { policyId: policy.id, version: 1, requiredApprovals: 5 }, 'requiredApprovals');
    await invalidField(as.admin, 'policy.update', { policyId: policy.id, version: 1, certificateId: theirs.certificateId }, 'certificateId');
    expect(await stateExceptAudit()).toEqual(before);
  });

  it('a duplicate slug in the project is CONFLICT; in another project it is fine', async () => {
    await ok(as.admin, 'policy.create', { ...base(), slug: 'dup-policy' });
    const before = await stateExceptAudit();
    await refused(as.admin, 'policy.create', { ...base(), slug: 'dup-policy' }, 'CONFLICT');
    expect(await stateExceptAudit()).toEqual(before);
    const elsewhere = (await newProject(as.admin, { repositoryUrl: 'https://github.com/example/other' })).project;
    expect((await ok(as.owner, 'policy.create', { ...base(), projectId: elsewhere.id, slug: 'dup-policy' })).slug).toBe('dup-policy');
    // A rename onto a taken slug, too.
    const second = await ok(as.admin, 'policy.create', { ...base(), slug: freshSlug('second') });
    await refused(as.admin, 'policy.update', { policyId: second.id, version: 1, slug: 'dup-policy' }, 'CONFLICT');
  });

  it('policy.update bumps the version; a stale version is CONFLICT with the current policy', async () => {
    const policy = await ok(as.admin, 'policy.create', { ...base(), slug: freshSlug('versioned') });
    const seen = changeSeen(as.viewer, 'policy', 'updated', (event) => event.id === policy.id);
    const updated = await ok(as.owner, 'policy.update', { policyId: policy.id, version: 1, requiredApprovals: 1, allowedBranches: ['main'] });
    expect(updated).toMatchObject({ requiredApprovals: 1, allowedBranches: ['main'], version: 2 });
    expect(await seen).toMatchObject({ version: 2, data: { requiredApprovals: 1 } });

    const before = await stateExceptAudit();
    const error = await refused(as.admin, 'policy.update', { policyId: policy.id, version: 1, requiredApprovals: 0 }, 'CONFLICT');
    expect(error.current).toEqual(updated);
    expect(await stateExceptAudit()).toEqual(before);
  });

  it('policy.delete removes it, live', async () => {
    const policy = await ok(as.admin, 'policy.create', { ...base(), slug: freshSlug('doomed') });
    const seen = changeSeen(as.viewer, 'policy', 'deleted', (event) => event.id === policy.id);
    expect(await ok(as.admin, 'policy.delete', { policyId: policy.id })).toEqual({ deleted: policy.id });
    await seen;
    expect((await ok<any[]>(as.viewer, 'policy.list', { projectId: project.id })).map((p) => p.id)).not.toContain(policy.id);
    await refused(as.admin, 'policy.update', { policyId: policy.id, version: 1, name: 'Back' }, 'NOT_FOUND');
  });
});

// ---------------------------------------------------------------------------------------------

describe('buildSystem.*', () => {
  const jwk = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' };

  it('an admin registers one by JWKS URL, the owner one with inline keys; a viewer sees them live', async () => {
    const seen = changeSeen(as.viewer, 'buildSystem', 'created', (event) => (event.data as any)?.issuer === 'https://token.actions.githubusercontent.com');
    const byUrl = await ok(as.admin, 'buildSystem.create', {
      name: 'GitHub Actions',
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'signet',
      jwksUrl: 'https://token.actions.githubusercontent.com/.well-known/jwks',
    });
    expect(byUrl).toMatchObject({ name: 'GitHub Actions', jwksUrl: 'https://token.actions.githubusercontent.com/.well-known/jwks', jwks: null, version: 1 });
    expect((await seen).id).toBe(byUrl.id);

    const inline = await ok(as.owner, 'buildSystem.create', { name: 'Internal CI', issuer: 'https://ci.internal.example.com', audience: 'signet', jwks: { keys: [jwk] } });
    expect(inline).toMatchObject({ jwksUrl: null, jwks: { keys: [jwk] } });
    expect((await ok<any[]>(as.viewer, 'buildSystem.list')).map((b) => b.id)).toEqual(expect.arrayContaining([byUrl.id, inline.id]));
  });

  it('needs exactly one of jwksUrl and jwks: otherwise INVALID_INPUT naming jwksUrl, and nothing is stored', async () => {
    const before = await stateExceptAudit();
    const common = { name: 'Ambiguous CI', issuer: 'https://ambiguous.example.com', audience: 'signet' };
    await invalidField(as.admin, 'buildSystem.create', common, 'jwksUrl');
    await invalidField(as.admin, 'buildSystem.create', { ...common, jwksUrl: 'https://ambiguous.example.com/jwks', jwks: { keys: [jwk] } }, 'jwksUrl');
    expect(await stateExceptAudit()).toEqual(before);
  });

  it('an issuer registered twice is CONFLICT', async () => {
    const before = await stateExceptAudit();
    await refused(as.admin, 'buildSystem.create', { name: 'GitHub again', issuer: 'https://token.actions.githubusercontent.com', audience: 'other', jwksUrl: 'https://example.com/jwks' }, 'CONFLICT');
    expect(await stateExceptAudit()).toEqual(before);
  });

  it('buildSystem.delete removes it, live', async () => {
    const doomed = await ok(as.admin, 'buildSystem.create', { name: 'Doomed', issuer: 'https://doomed-bs.example.com', audience: 'signet', jwksUrl: 'https://doomed-bs.example.com/jwks' });
    const seen = changeSeen(as.viewer, 'buildSystem', 'deleted', (event) => event.id === doomed.id);
    expect(await ok(as.admin, 'buildSystem.delete', { buildSystemId: doomed.id })).toEqual({ deleted: doomed.id });
    await seen;
    await refused(as.admin, 'buildSystem.delete', { buildSystemId: doomed.id }, 'NOT_FOUND');
  });
});

// ---------------------------------------------------------------------------------------------

describe('webhook.*', () => {
  it('webhook.create shows its secret once: no later list, event, audit entry or stored value carries it in the clear', async () => {
    const { project } = await newProject(as.member);
    const seen = changeSeen(as.viewer, 'webhook', 'created');
    const created = await ok(as.member, 'webhook.create', { projectId: project.id, url: 'https://hooks.example.com/signet' });
    expect(created.secret).toMatch(/^whsec_[\w-]{20,}$/);
    expect(created.webhook).toMatchObject({ projectId: project.id, url: 'https://hooks.example.com/signet', version: 1 });
    expect(Object.keys(created.webhook)).not.toContain('sealedSecret');
    expect((await seen).id).toBe(created.webhook.id);

    const listed = await ok<any[]>(as.admin, 'webhook.list', { projectId: project.id });
    expect(listed).toEqual([created.webhook]);
    const viewerList = await ok<any[]>(as.viewer, 'webhook.list', { projectId: project.id });
    expect(viewerList).toEqual([created.webhook]);

    const raw = (await fx.node.signet.redis.get(fx.node.signet.keys.webhook(created.webhook.id)))!;
    expect(raw).not.toContain(created.secret);
    expect(JSON.parse(raw).sealedSecret).toMatchObject({ alg: 'A256GCM' });

    const later = {
      lists: JSON.stringify([listed, viewerList]),
      adminEvents: JSON.stringify(as.admin.received),
      viewerEvents: JSON.stringify(as.viewer.received),
      memberEvents: JSON.stringify(as.member.received),
      auditLog: JSON.stringify(await auditLog(fx.node, fx.org.orgId)),
    };
    expect(as.admin.received.some((event) => event.event === 'audit' && event.data.entry.target.id === created.webhook.id)).toBe(true);
    for (const [where, text] of Object.entries(later)) {
      expect(text, where).not.toContain(created.secret);
      expect(text, where).not.toContain(created.secret.slice('whsec_'.length));
      expect(text, where).not.toContain('sealedSecret');
    }
  });

  it('webhook.delete removes it, live; deleting it again is NOT_FOUND', async () => {
    const { project } = await newProject(as.member);
    const { webhook } = await ok(as.member, 'webhook.create', { projectId: project.id, url: 'https://hooks.example.com/doomed' });
    const seen = changeSeen(as.viewer, 'webhook', 'deleted', (event) => event.id === webhook.id);
    expect(await ok(as.member, 'webhook.delete', { webhookId: webhook.id })).toEqual({ deleted: webhook.id });
    await seen;
    expect(await ok(as.viewer, 'webhook.list', { projectId: project.id })).toEqual([]);
    await refused(as.member, 'webhook.delete', { webhookId: webhook.id }, 'NOT_FOUND');
  });
});

// ---------------------------------------------------------------------------------------------

describe('tenancy of the live feed', () => {
  it('org B’s owner received no event about org A’s configuration, and org A’s sockets none about org B’s', async () => {
    const aIds = new Set((await ok<any[]>(as.owner, 'project.list')).map((p) => p.id));
    const bIds = new Set([theirs.projectId, theirs.certificateId, theirs.policyId, theirs.buildSystemId, theirs.webhookId]);
    expect(aIds.size).toBeGreaterThan(5);
    const aboutA = bOwner.received.filter((event) => event.event === 'change' && aIds.has(event.data.id));
    expect(aboutA).toEqual([]);
    for (const role of ROLES) {
      expect(as[role].received.filter((event) => event.event === 'change' && bIds.has(event.data.id))).toEqual([]);
    }
  });
});
