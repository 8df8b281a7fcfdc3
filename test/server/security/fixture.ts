// An organization as an attacker finds it: one person per role (and a stored legacy analyst), a CI
// user, a project with configurations, certificates, policies, build systems, webhooks, requests
// waiting and completed; and, per command, an example input aimed at something the command would
// really change. The permission test and the fuzz test share it.
import type { SignetNode } from '../../../server/index.js';
import { addMemberDirectly } from '../../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../../server/audit/entries.js';
import type { CommandInput, CommandName } from '../../../src/lib/shared/commands.js';
import type { Permission } from '../../../src/lib/shared/permissions.js';
import { connect, OPERATOR, seedOrg, signIn, type ClientSocket } from '../../helpers/signet.js';
import { must, opensslCertificate, submitOk, waitForStatus, type ImportMaterial, type Person as SignedInPerson } from '../../helpers/signing.js';
import { startTestCa, type TestCa } from '../../helpers/testCa.js';

export const PEOPLE = ['owner', 'admin', 'member', 'viewer', 'analyst'] as const;
export type PersonKey = (typeof PEOPLE)[number];

export interface Person extends SignedInPerson {
  /** An API key of theirs able to submit and read, for those whose role may submit. */
  submitToken: string | null;
}

/** Who an example input is made for: the identity whose membership applies, and what it may do. */
export interface Who {
  userId: string;
  permissions: ReadonlySet<Permission>;
  /** The instance's support user (not a member: owns no keys, is named in no policy). */
  support?: boolean;
  /** The API key this principal is, for one that cannot create keys of its own. */
  ownKeyId?: string;
}

/** An EC P-256 public key, as a build system's inline JWKS carries it. */
const PUBLIC_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

/** A receiver URL that passes every outbound rule (a public address literal, no name to resolve); nothing is ever sent there. */
const WEBHOOK_URL = 'https://93.184.215.14/signet-hook';

export interface SecurityFixture {
  node: SignetNode;
  org: { orgId: string; slug: string };
  people: Record<PersonKey, Person>;
  ci: { userId: string; token: string };
  /** A CI user the examples grant pre-approved windows to; it never submits, so no example request is pre-approved. */
  grantee: { userId: string };
  standing: {
    projectId: string;
    projectSlug: string;
    /** A non-default artifact configuration, renamed by artifactConfig.update. */
    configId: string;
    /** Signs everything; never disabled. */
    certificateId: string;
    /** Renamed by certificate.update. */
    editableCertificateId: string;
    /** 2 of n approvals; names every person who may (not the viewer) as submitter and approver, and the CI users as submitters; allows break-glass. */
    policyId: string;
    policySlug: string;
    /** Renamed by policy.update. */
    editablePolicyId: string;
    /** A project without requests, for webhooks (so no delivery is ever owed). */
    hookProjectId: string;
    waitingRequestId: string;
    completedRequestId: string;
    /** A member whose role member.changeRole toggles between member and viewer. */
    roleTargetId: string;
    /** A key the viewer made while they were a member. */
    viewerKeyId: string;
  };
  material: ImportMaterial;
  /** A fresh name or slug on every call. */
  unique(prefix: string): string;
  /** Runs a command as the owner and insists on success. */
  asOwner<R = any>(name: string, input?: unknown): Promise<R>;
  /** A new request waiting for approval, submitted by `submitterId` when they may submit (else by the CI user). */
  waitingRequest(submitterId?: string): Promise<string>;
  /** A new canceled (final) request, submitted like waitingRequest. */
  finalRequest(submitterId?: string): Promise<string>;
  /** The API token with which `userId` submits, if they may. */
  submitTokenOf(userId: string): string | null;
  /** A new certificate awaiting its CA certificate (key and CSR made by the owner), and what the test CA issued for its CSR. */
  awaitingCertificate(): Promise<{ certificateId: string; version: number; issuedPem: string }>;
  close(): void;
}

export async function buildFixture(node: SignetNode): Promise<SecurityFixture> {
  const seeded = await seedOrg(node);
  const password = seeded.users.owner.password;
  // The legacy role exists only in stored data: an operator adds a member, whose record then says analyst.
  const analystEmail = `analyst@${seeded.slug}.example.com`;
  const analyst = await addMemberDirectly(node.signet, seeded.orgId, { email: analystEmail, name: 'Ana Analyst', role: 'member', password }, OPERATOR, CLI_SOURCE);
  const analystKey = node.signet.keys.member(seeded.orgId, analyst.userId);
  await node.signet.redis.set(analystKey, JSON.stringify({ ...JSON.parse((await node.signet.redis.get(analystKey))!), role: 'analyst' }));
  const roleTarget = await addMemberDirectly(node.signet, seeded.orgId, { email: `target@${seeded.slug}.example.com`, name: 'Terry Target', role: 'member', password }, OPERATOR, CLI_SOURCE);

  const accounts: Record<PersonKey, { userId: string; email: string; name: string }> = {
    owner: { userId: seeded.users.owner.userId, email: seeded.users.owner.email, name: 'Olivia Owner' },
    admin: { userId: seeded.users.admin.userId, email: seeded.users.admin.email, name: 'Adam Admin' },
    member: { userId: seeded.users.member.userId, email: seeded.users.member.email, name: 'Mia Member' },
    viewer: { userId: seeded.users.viewer.userId, email: seeded.users.viewer.email, name: 'Victor Viewer' },
    analyst: { userId: analyst.userId, email: analystEmail, name: 'Ana Analyst' },
  };
  const people = {} as Record<PersonKey, Person>;
  for (const key of PEOPLE) {
    const cookie = await signIn(node, { email: accounts[key].email, password });
    people[key] = { ...accounts[key], password, cookie, socket: await connect(node, { cookie }), submitToken: null };
  }
  const owner = people.owner.socket;
  let counter = 0;
  const unique = (prefix: string) => `${prefix}-${(++counter).toString(36)}`;
  const asOwner = <R = any>(name: string, input: unknown = {}) => must<R>(owner, name, input);
  let ca: Promise<TestCa> | undefined;

  const bot = await asOwner('ciUser.create', { name: 'Build Bot' });
  const ci = { userId: bot.ciUser.userId as string, token: bot.token as string };
  const grantee = { userId: (await asOwner('ciUser.create', { name: 'Window Bot' })).ciUser.userId as string };
  for (const key of ['owner', 'admin', 'member', 'analyst'] as const) {
    people[key].submitToken = (await must(people[key].socket, 'apiKey.create', { name: `${key} submits`, permissions: ['signing:submit', 'signing:read'] })).token;
  }
  // The viewer was a member once, and made a key then.
  const memberVersion = async (userId: string) =>
    (await asOwner<Array<{ userId: string; version: number }>>('member.list')).find((m) => m.userId === userId)!.version;
  const viewerId = people.viewer.userId;
  await asOwner('member.changeRole', { userId: viewerId, role: 'member', version: await memberVersion(viewerId) });
  const viewerKeyId = (await must(people.viewer.socket, 'apiKey.create', { name: 'viewer key', permissions: ['signing:read'] })).apiKey.id as string;
  await asOwner('member.changeRole', { userId: viewerId, role: 'viewer', version: await memberVersion(viewerId) });

  const material = await opensslCertificate('security import');
  const project = (await asOwner('project.create', { slug: 'secure-app', name: 'Secure App', repositoryUrl: 'https://github.com/acme/secure-app' })).project;
  const configId = (await asOwner('artifactConfig.create', { projectId: project.id, slug: 'installers', name: 'Installers' })).id as string;
  const certificateId = (await asOwner('certificate.generate', { slug: 'signing-cert', name: 'Signing certificate', type: 'test', commonName: 'Secure App Test Signing' })).id as string;
  const editableCertificateId = (await asOwner('certificate.generate', { slug: 'editable-cert', name: 'Editable certificate', type: 'test', commonName: 'Editable' })).id as string;
  const signers = (['owner', 'admin', 'member', 'analyst'] as const).map((key) => people[key].userId);
  const policy = await asOwner('policy.create', {
    projectId: project.id,
    slug: 'release',
    name: 'Release',
    certificateId,
    submitters: [ci.userId, grantee.userId, ...signers],
    approvers: signers,
    requiredApprovals: 2,
    allowBreakGlass: true,
  });
  await asOwner('policy.create', { projectId: project.id, slug: 'auto', name: 'Automatic', certificateId, submitters: [ci.userId] });
  const editablePolicyId = (await asOwner('policy.create', { projectId: project.id, slug: 'editable', name: 'Editable', certificateId })).id as string;
  const hookProjectId = (await asOwner('project.create', { slug: 'hooks', name: 'Hooks' })).project.id as string;

  const tokens = new Map<string, string>([[ci.userId, ci.token]]);
  for (const key of PEOPLE) if (people[key].submitToken) tokens.set(people[key].userId, people[key].submitToken!);
  const submitTokenOf = (userId: string) => tokens.get(userId) ?? null;
  const submit = async (token: string, policySlug: string) =>
    (await submitOk(node, seeded.slug, token, { projectSlug: project.slug, signingPolicySlug: policySlug, artifact: Buffer.from(`artifact ${unique('a')}\n`) })).id as string;
  const waitingRequest = (submitterId?: string) => submit((submitterId && submitTokenOf(submitterId)) || ci.token, policy.slug);
  const finalRequest = async (submitterId?: string) => {
    const id = await waitingRequest(submitterId);
    await asOwner('request.cancel', { requestId: id, reason: 'to have a final request' });
    return id;
  };

  const completedRequestId = await submit(ci.token, 'auto');
  await waitForStatus(owner, completedRequestId, 'Completed', { ask: true });

  return {
    node,
    org: { orgId: seeded.orgId, slug: seeded.slug },
    people,
    ci,
    grantee,
    standing: {
      projectId: project.id,
      projectSlug: project.slug,
      configId,
      certificateId,
      editableCertificateId,
      policyId: policy.id,
      policySlug: policy.slug,
      editablePolicyId,
      hookProjectId,
      waitingRequestId: await waitingRequest(),
      completedRequestId,
      roleTargetId: roleTarget.userId,
      viewerKeyId,
    },
    material,
    unique,
    asOwner,
    waitingRequest,
    finalRequest,
    submitTokenOf,
    async awaitingCertificate() {
      const requested = await asOwner<{ id: string; version: number }>('certificate.generateCsr', {
        slug: unique('requested-cert'),
        name: unique('Requested certificate'),
        type: 'release',
        custody: 'software',
        commonName: 'Secure App Release',
      });
      const { csrPem } = await asOwner<{ csrPem: string }>('certificate.downloadCsr', { certificateId: requested.id });
      ca ??= startTestCa('Security');
      return { certificateId: requested.id, version: requested.version, issuedPem: await (await ca).issue(csrPem) };
    },
    close() {
      for (const key of PEOPLE) people[key].socket.close();
      void ca?.then((opened) => opened.close());
    },
  };
}

async function versionIn<T extends { id: string; version: number }>(fx: SecurityFixture, name: string, input: unknown, id: string): Promise<number> {
  const listed = await fx.asOwner<T[]>(name, input);
  return listed.find((entity) => entity.id === id)!.version;
}

/** An input of `command` aimed at something it would really change (never the actor itself, never a no-op). */
export type Example<N extends CommandName = CommandName> = (fx: SecurityFixture, who: Who) => Promise<CommandInput<N> & Record<string, unknown>>;

/**
 * One example input per command. The type makes the list complete and each input the command's own:
 * a new command does not compile until it has an example here (so it cannot be left out of the
 * permission, fuzz and schema tests), and an example whose fields no longer fit the command's input
 * schema (src/lib/shared/commands.ts) does not compile either.
 */
export const EXAMPLES: { [N in CommandName]: Example<N> } = {
  'me.get': async () => ({}),
  'org.get': async () => ({}),
  'org.update': async (fx) => ({ name: fx.unique('Renamed organization'), version: (await fx.asOwner('org.get')).version }),
  // Another organization's slug: whoever may delete gets as far as the confirmation (INVALID_INPUT
  // naming confirmSlug), and nothing is deleted; whoever may not is refused before it.
  'org.delete': async () => ({ confirmSlug: 'not-this-organization' }),

  'member.list': async () => ({}),
  'member.invite': async (fx) => ({ email: `${fx.unique('newcomer')}@example.com`, role: 'viewer' }),
  'member.changeRole': async (fx) => {
    const target = (await fx.asOwner<Array<{ userId: string; role: string; version: number }>>('member.list')).find((m) => m.userId === fx.standing.roleTargetId)!;
    return { userId: target.userId, role: target.role === 'member' ? 'viewer' : 'member', version: target.version };
  },
  'member.remove': async (fx) => {
    // One account, added again after each removal (its password is hashed once).
    const member = await addMemberDirectly(
      fx.node.signet,
      fx.org.orgId,
      { email: `removable@${fx.org.slug}.example.com`, name: 'Rita Removable', role: 'member', password: 'correct horse battery staple' },
      OPERATOR,
      CLI_SOURCE,
    );
    return { userId: member.userId };
  },
  'invite.list': async () => ({}),
  'invite.revoke': async (fx) => ({ inviteId: (await fx.asOwner('member.invite', { email: `${fx.unique('pending')}@example.com`, role: 'viewer' })).invitation.id }),

  'ciUser.create': async (fx) => ({ name: fx.unique('Another Bot') }),
  'ciUser.remove': async (fx) => ({ userId: (await fx.asOwner('ciUser.create', { name: fx.unique('Doomed Bot') })).ciUser.userId }),

  // Toggled first, so that the command changes something; the support user itself is left connected.
  'support.authorize': async (fx, who) => {
    if (!who.support && (await fx.asOwner('org.get')).supportAuthorized) await fx.asOwner('support.disable');
    return {};
  },
  'support.disable': async (fx) => {
    if (!(await fx.asOwner('org.get')).supportAuthorized) await fx.asOwner('support.authorize');
    return {};
  },

  'apiKey.list': async () => ({}),
  // A permission the principal holds, so only apikey:write decides.
  'apiKey.create': async (fx, who) => ({ name: fx.unique('sneaky key'), permissions: [who.permissions.has('apikey:write') ? 'apikey:write' : 'signing:read'] }),
  // The principal's own key (for the support user, who owns none: a CI user's).
  'apiKey.revoke': async (fx, who) => {
    if (who.support || who.userId === fx.ci.userId) {
      return { keyId: (await fx.asOwner('apiKey.create', { name: fx.unique('ci key'), permissions: ['signing:read'], ciUserId: fx.ci.userId })).apiKey.id };
    }
    const person = PEOPLE.map((key) => fx.people[key]).find((p) => p.userId === who.userId);
    if (person && person !== fx.people.viewer) {
      return { keyId: (await must(person.socket, 'apiKey.create', { name: fx.unique('own key'), permissions: ['signing:read'] })).apiKey.id };
    }
    return { keyId: who.ownKeyId ?? fx.standing.viewerKeyId };
  },

  'audit.query': async () => ({ limit: 5 }),
  'audit.verify': async () => ({}),

  'notification.list': async () => ({}),
  'notification.markRead': async () => ({ all: true }),
  'notification.settings': async (fx) => ({ set: [{ policyId: fx.standing.policyId, level: 'all' }] }),

  'presence.update': async () => ({ page: '/security' }),

  'project.list': async () => ({}),
  'project.get': async (fx) => ({ projectId: fx.standing.projectId }),
  'project.create': async (fx) => ({ slug: fx.unique('sneaky-project'), name: 'Sneaky project' }),
  'project.update': async (fx) => ({
    projectId: fx.standing.projectId,
    version: (await fx.asOwner('project.get', { projectId: fx.standing.projectId })).project.version,
    name: fx.unique('Renamed project'),
  }),
  'project.delete': async (fx) => {
    const slug = fx.unique('doomed-project');
    return { projectId: (await fx.asOwner('project.create', { slug, name: 'Doomed project' })).project.id, confirmSlug: slug };
  },

  'artifactConfig.list': async (fx) => ({ projectId: fx.standing.projectId }),
  'artifactConfig.create': async (fx) => ({ projectId: fx.standing.projectId, slug: fx.unique('sneaky-config'), name: 'Sneaky configuration', fileNamePattern: '*.exe' }),
  'artifactConfig.update': async (fx) => ({
    artifactConfigId: fx.standing.configId,
    version: await versionIn(fx, 'artifactConfig.list', { projectId: fx.standing.projectId }, fx.standing.configId),
    name: fx.unique('Renamed configuration'),
  }),
  'artifactConfig.delete': async (fx) => ({
    artifactConfigId: (await fx.asOwner('artifactConfig.create', { projectId: fx.standing.projectId, slug: fx.unique('doomed-config'), name: 'Doomed' })).id,
  }),

  'certificate.list': async () => ({}),
  'certificate.generate': async (fx) => ({ slug: fx.unique('sneaky-generated'), name: 'Sneaky generated', type: 'release', algorithm: 'ECDSA-P256', commonName: 'Sneaky' }),
  'certificate.import': async (fx) => ({
    slug: fx.unique('sneaky-imported'),
    name: 'Sneaky imported',
    type: 'release',
    format: 'pem',
    certificatePem: fx.material.certificatePem,
    privateKeyPem: fx.material.privateKeyPem,
  }),
  'certificate.generateCsr': async (fx) => ({ slug: fx.unique('sneaky-csr'), name: 'Sneaky CSR', type: 'release', custody: 'software', commonName: 'Sneaky Corp', country: 'DE' }),
  'certificate.downloadCsr': async (fx) => ({ certificateId: (await fx.awaitingCertificate()).certificateId }),
  'certificate.importIssued': async (fx) => {
    const { certificateId, version, issuedPem } = await fx.awaitingCertificate();
    return { certificateId, version, certificatePem: issuedPem };
  },
  'certificate.update': async (fx) => ({
    certificateId: fx.standing.editableCertificateId,
    version: await versionIn(fx, 'certificate.list', {}, fx.standing.editableCertificateId),
    name: fx.unique('Renamed certificate'),
  }),

  'policy.list': async (fx) => ({ projectId: fx.standing.projectId }),
  // A member would make themselves a submitter and approver.
  'policy.create': async (fx) => ({
    projectId: fx.standing.projectId,
    slug: fx.unique('sneaky-policy'),
    name: 'Sneaky policy',
    certificateId: fx.standing.certificateId,
    submitters: [fx.people.member.userId],
    approvers: [fx.people.member.userId],
    requiredApprovals: 1,
  }),
  'policy.update': async (fx) => ({
    policyId: fx.standing.editablePolicyId,
    version: await versionIn(fx, 'policy.list', { projectId: fx.standing.projectId }, fx.standing.editablePolicyId),
    name: fx.unique('Renamed policy'),
    approvers: [fx.people.member.userId],
  }),
  'policy.delete': async (fx) => ({
    policyId: (await fx.asOwner('policy.create', { projectId: fx.standing.projectId, slug: fx.unique('doomed-policy'), name: 'Doomed', certificateId: fx.standing.certificateId })).id,
  }),

  'buildSystem.list': async () => ({}),
  'buildSystem.create': async (fx) => ({ name: 'Sneaky CI', issuer: `https://${fx.unique('ci')}.example.com`, audience: 'signet', jwks: { keys: [PUBLIC_JWK] } }),
  'buildSystem.delete': async (fx) => ({
    buildSystemId: (await fx.asOwner('buildSystem.create', { name: 'Doomed CI', issuer: `https://${fx.unique('doomed-ci')}.example.com`, audience: 'signet', jwks: { keys: [PUBLIC_JWK] } })).id,
  }),

  'webhook.list': async (fx) => ({ projectId: fx.standing.hookProjectId }),
  'webhook.create': async (fx) => ({ projectId: fx.standing.hookProjectId, url: `${WEBHOOK_URL}/${fx.unique('sneaky')}` }),
  'webhook.update': async (fx) => {
    const { webhook } = await fx.asOwner('webhook.create', { projectId: fx.standing.hookProjectId, url: `${WEBHOOK_URL}/${fx.unique('retuned')}` });
    return { webhookId: webhook.id, version: webhook.version, events: ['request.waitingForApproval'] };
  },
  'webhook.delete': async (fx) => ({
    webhookId: (await fx.asOwner('webhook.create', { projectId: fx.standing.hookProjectId, url: `${WEBHOOK_URL}/${fx.unique('doomed')}` })).webhook.id,
  }),

  'chatChannel.list': async (fx) => ({ projectId: fx.standing.hookProjectId }),
  'chatChannel.create': async (fx) => ({ projectId: fx.standing.hookProjectId, service: 'slack', name: fx.unique('#sneaky'), url: `${WEBHOOK_URL}/${fx.unique('chat')}` }),
  'chatChannel.delete': async (fx) => ({
    chatChannelId: (await fx.asOwner('chatChannel.create', { projectId: fx.standing.hookProjectId, service: 'mattermost', name: fx.unique('#doomed'), url: `${WEBHOOK_URL}/${fx.unique('chat')}` })).id,
  }),

  'request.list': async () => ({}),
  'request.get': async (fx) => ({ requestId: fx.standing.waitingRequestId }),
  // Submitted by the CI user, so that no principal approves its own request here.
  'request.approve': async (fx) => ({ requestId: await fx.waitingRequest(), comment: 'looks fine to me' }),
  'request.deny': async (fx) => ({ requestId: await fx.waitingRequest(), comment: 'not this one' }),
  // The principal's own request where it may submit (SPEC: "cancel own requests").
  'request.cancel': async (fx, who) => ({ requestId: await fx.waitingRequest(who.userId), reason: 'changed my mind' }),
  'request.resubmit': async (fx, who) => ({ requestId: await fx.finalRequest(who.userId), description: 'once more' }),

  'dashboard.stats': async () => ({ days: 14 }),

  'request.breakGlass': async (fx) => ({ requestId: await fx.waitingRequest(), reason: 'the release must ship tonight and both approvers are on a plane' }),

  'grant.list': async (fx) => ({ policyId: fx.standing.policyId }),
  'grant.propose': async (fx) => ({ policyId: fx.standing.policyId, granteeId: fx.grantee.userId, maxSignatures: 3, hours: 1 }),
  // Proposed by another approver, so that the principal's co-signature is the one that opens it.
  'grant.cosign': async (fx, who) => {
    const proposer = who.userId === fx.people.owner.userId ? fx.people.admin : fx.people.owner;
    return { grantId: (await must(proposer.socket, 'grant.propose', { policyId: fx.standing.policyId, granteeId: fx.grantee.userId, maxSignatures: 2, hours: 2 })).id };
  },
  'grant.revoke': async (fx) => ({
    grantId: (await fx.asOwner('grant.propose', { policyId: fx.standing.policyId, granteeId: fx.grantee.userId, maxSignatures: 1, hours: 0.5 })).id,
    reason: 'no longer needed',
  }),
};

