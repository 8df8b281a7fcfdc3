// `signet demo`: a demo organization with one user per role and a CI user with a token. Running it
// again changes nothing and prints the same credentials: they are derived from the instance's
// master key, so they are stable here and unguessable elsewhere.
import { createHmac } from 'node:crypto';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import { permissionsOf } from '../../src/lib/shared/permissions.js';
import type { Signet } from '../signet.js';
import { addMemberDirectly, createOrganization } from '../auth/organizations.js';
import { CLI_SOURCE } from '../audit/entries.js';
import { API_KEY_PREFIX, tokenHash } from '../auth/secrets.js';
import type { ApiKeyRecord, MemberRecord, UserRecord } from '../store/records.js';
import { ownerActor } from '../auth/actor.js';
import { COMMANDS_BY_NAME } from '../commands/registry.js';
import { createCommandContext, NO_NODE_SERVICES } from '../commands/define.js';

const DEMO_ORG = 'demo';
const DEMO_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;

function derived(signet: Signet, purpose: string, length: number): string {
  return createHmac('sha256', signet.config.masterKey).update(`signet-demo:${purpose}`).digest('base64url').replace(/[-_]/g, 'x').slice(0, length);
}

export interface DemoCredentials {
  org: string;
  users: Array<{ role: string; email: string; password: string }>;
  ciUser: { email: string; token: string };
  project: string;
  certificate: string;
  /** A certificate whose key is held in the PKCS#11 token; null when this installation has no token. */
  tokenCertificate: string | null;
  policies: { test: string; release: string; authenticode: string; openpgp: string };
  /** The artifact configurations whose format the authenticode and openpgp policies are for. */
  artifactConfigurations: { authenticode: string; openpgp: string };
}

const DEMO_PROJECT = 'demo-app';
const DEMO_CERTIFICATE = 'demo-test-certificate';
const DEMO_TOKEN_CERTIFICATE = 'demo-token-certificate';
const DEMO_POLICIES = { test: 'test-signing', release: 'release-signing', authenticode: 'authenticode-signing', openpgp: 'openpgp-signing' } as const;
const DEMO_ARTIFACT_CONFIGS = { authenticode: 'windows', openpgp: 'linux' } as const;

/** Runs a command as the organization's owner, with the operator named in the audit log. */
async function asOwner<T>(signet: Signet, orgId: string, actorAudit: AuditActor, name: string, input: unknown): Promise<T> {
  const actor = await ownerActor(signet.store, orgId, actorAudit);
  const command = COMMANDS_BY_NAME.get(name)!;
  const context = createCommandContext(signet, NO_NODE_SERVICES, command.name, actor, CLI_SOURCE);
  return (await command.handler(context, command.input.parse(input) as never)) as T;
}

async function ensureDemoSigning(signet: Signet, orgId: string, actor: AuditActor, people: { admin: string; member: string; owner: string; ciUser: string }) {
  let projectId = (await signet.store.projects.bySlug(orgId, DEMO_PROJECT))?.value.id;
  if (!projectId) {
    const created = await asOwner<{ project: { id: string } }>(signet, orgId, actor, 'project.create', {
      slug: DEMO_PROJECT,
      name: 'Demo App',
      repositoryUrl: 'https://github.com/example/demo-app',
      description: 'A project to try Signet with',
    });
    projectId = created.project.id;
  }
  let certificateId = await signet.store.certificates.idBySlug(orgId, DEMO_CERTIFICATE);
  if (!certificateId) {
    const certificate = await asOwner<{ id: string }>(signet, orgId, actor, 'certificate.generate', {
      slug: DEMO_CERTIFICATE,
      name: 'Demo test certificate',
      type: 'test',
      algorithm: 'ECDSA-P256',
      commonName: 'Signet Demo',
      organization: 'Demo Organization',
      validDays: 365,
    });
    certificateId = certificate.id;
  }
  if (signet.config.pkcs11 && !(await signet.store.certificates.slugTaken(orgId, DEMO_TOKEN_CERTIFICATE))) {
    await asOwner(signet, orgId, actor, 'certificate.generate', {
      slug: DEMO_TOKEN_CERTIFICATE,
      name: 'Demo token-held certificate',
      type: 'test',
      custody: 'pkcs11',
      algorithm: 'ECDSA-P256',
      commonName: 'Signet Demo (token)',
      organization: 'Demo Organization',
      validDays: 365,
    });
  }
  const configs = [
    { slug: DEMO_ARTIFACT_CONFIGS.authenticode, name: 'Windows (Authenticode)', signatureFormat: 'authenticode' },
    { slug: DEMO_ARTIFACT_CONFIGS.openpgp, name: 'Linux (OpenPGP)', signatureFormat: 'openpgp-detached' },
  ];
  for (const config of configs) {
    if (await signet.store.artifactConfigs.slugTaken(projectId, config.slug)) continue;
    await asOwner(signet, orgId, actor, 'artifactConfig.create', { projectId, ...config });
  }
  const everyone = [people.ciUser, people.member, people.admin, people.owner];
  const policies = [
    { slug: DEMO_POLICIES.test, name: 'Test signing', requiredApprovals: 0, approvers: [], submitters: everyone },
    { slug: DEMO_POLICIES.release, name: 'Release signing', requiredApprovals: 1, approvers: [people.admin], submitters: [people.ciUser, people.member, people.owner] },
    // Sign through the matching artifact configuration (artifactConfigurationSlug: windows / linux).
    { slug: DEMO_POLICIES.authenticode, name: 'Authenticode signing', requiredApprovals: 0, approvers: [], submitters: everyone, allowWithoutTimestamp: true },
    { slug: DEMO_POLICIES.openpgp, name: 'OpenPGP signing', requiredApprovals: 0, approvers: [], submitters: everyone },
  ];
  for (const policy of policies) {
    if (await signet.store.policies.slugTaken(projectId, policy.slug)) continue;
    await asOwner(signet, orgId, actor, 'policy.create', { projectId, certificateId, ...policy });
  }
}

export async function runDemo(signet: Signet, actor: AuditActor): Promise<DemoCredentials> {
  const users = DEMO_ROLES.map((role) => ({
    role,
    email: `${role}@demo.signet.test`,
    name: `Demo ${role[0]!.toUpperCase()}${role.slice(1)}`,
    password: derived(signet, `password:${role}`, 20),
  }));
  const [owner, ...others] = users;

  let orgId = await signet.store.organizations.idBySlug(DEMO_ORG);
  if (!orgId) {
    const created = await createOrganization(
      signet,
      { orgSlug: DEMO_ORG, orgName: 'Demo Organization', ownerEmail: owner!.email, ownerName: owner!.name, ownerPassword: owner!.password },
      actor,
      CLI_SOURCE,
    );
    orgId = created.org.id;
  }
  for (const person of others) {
    await addMemberDirectly(signet, orgId, { ...person, role: person.role as 'admin' | 'member' | 'viewer' }, actor, CLI_SOURCE);
  }
  const ciUser = await ensureDemoCiUser(signet, orgId, actor);
  const idOf = async (email: string) => (await signet.store.users.idByEmail(email))!;
  await ensureDemoSigning(signet, orgId, actor, {
    owner: await idOf(owner!.email),
    admin: await idOf(users[1]!.email),
    member: await idOf(users[2]!.email),
    ciUser: await idOf(ciUser.email),
  });
  return {
    org: DEMO_ORG,
    users: users.map(({ role, email, password }) => ({ role, email, password })),
    ciUser,
    project: DEMO_PROJECT,
    certificate: DEMO_CERTIFICATE,
    tokenCertificate: (await signet.store.certificates.slugTaken(orgId, DEMO_TOKEN_CERTIFICATE)) ? DEMO_TOKEN_CERTIFICATE : null,
    policies: { ...DEMO_POLICIES },
    artifactConfigurations: { ...DEMO_ARTIFACT_CONFIGS },
  };
}

async function ensureDemoCiUser(signet: Signet, orgId: string, actor: AuditActor) {
  const { members, apiKeys, ciUsers } = signet.store;
  const userId = derived(signet, 'ci-user-id', 12);
  const keyId = derived(signet, 'ci-key-id', 12);
  const secret = derived(signet, 'ci-key-secret', 43).padEnd(43, 'x');
  const token = `${API_KEY_PREFIX}${keyId}_${secret}`;
  const email = `ci-${userId.toLowerCase()}@${DEMO_ORG}.ci.signet.invalid`;
  if (await members.get(orgId, userId)) {
    if (!(await apiKeys.get(orgId, keyId))) await writeDemoKey(signet, orgId, userId, keyId, secret, actor);
    return { email, token };
  }
  const now = new Date().toISOString();
  const user: UserRecord = { id: userId, email, name: 'Demo CI', kind: 'ciUser', passwordHash: null, operator: false, createdAt: now, version: 1 };
  const member: MemberRecord = { userId, orgId, kind: 'ciUser', email, name: 'Demo CI', role: 'member', joinedAt: now, version: 1 };
  await signet.acting({ orgId, actor, source: CLI_SOURCE }).commit({
    action: 'ciUser.create',
    target: { type: 'ciUser', id: userId, name: 'Demo CI' },
    changes: { role: { before: null, after: 'member' } },
    ...ciUsers.create(user, member),
  });
  await writeDemoKey(signet, orgId, userId, keyId, secret, actor);
  return { email, token };
}

async function writeDemoKey(signet: Signet, orgId: string, ownerId: string, keyId: string, secret: string, actor: AuditActor) {
  const record: ApiKeyRecord = {
    id: keyId,
    orgId,
    ownerId,
    name: 'Demo CI token',
    prefix: `${API_KEY_PREFIX}${keyId}`,
    permissions: permissionsOf('member'),
    createdAt: new Date().toISOString(),
    createdBy: actor.id,
    expiresAt: null,
    lastUsedAt: null,
    ancestry: [],
    version: 1,
    secretHash: tokenHash(secret),
  };
  await signet.acting({ orgId, actor, source: CLI_SOURCE }).commit({
    action: 'apiKey.create',
    target: { type: 'apiKey', id: keyId, name: record.name },
    changes: { permissions: { before: null, after: record.permissions } },
    ...signet.store.apiKeys.create(record, true),
  });
}
