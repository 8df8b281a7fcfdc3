// Who may do what (SPEC §2, §3, §4, §7, §8), tried by everyone who might try: every command and
// every REST endpoint, as each role (and the legacy analyst), a CI user, an API key carrying each
// single permission, a key whose owner was demoted, the support user; then credentials that no
// longer count (expired, revoked, of a removed member, of disabled support) and a member of another
// organization using this organization's ids; then the signing rules of the policies.
//
// The expected outcome is derived from SPEC §3 as written out below, not from the server's own
// matrix. A refused call changes nothing of record: a FORBIDDEN writes exactly one denial entry in
// the audit log, an UNAUTHENTICATED writes nothing at all.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { addMemberDirectly, createOrganization } from '../../../server/auth/organizations.js';
import { createOperator } from '../../../server/cli/operator.js';
import { CLI_SOURCE } from '../../../server/audit/entries.js';
import type { CommandName } from '../../../src/lib/shared/commands.js';
import type { Permission } from '../../../src/lib/shared/permissions.js';
import {
  command,
  connect,
  http,
  OPERATOR,
  ORIGIN,
  restCommand,
  signIn,
  snapshot,
  startNode,
  testConfig,
  type ClientSocket,
} from '../../helpers/signet.js';
import { jsonOrText, must, submitOk, waitForStatus } from '../../helpers/signing.js';
import { SPEC_PERMISSIONS, SPEC_ROLE_PERMISSIONS, type SpecRole } from '../../helpers/specMatrix.js';
import { buildFixture, EXAMPLES, type SecurityFixture, type Who } from './fixture.js';

// SPEC §3's matrix (test/helpers/specMatrix.ts holds it as the spec's text).
const ALL_PERMISSIONS = SPEC_PERMISSIONS;
const ROLE_PERMISSIONS = SPEC_ROLE_PERMISSIONS;
type Role = SpecRole;

/**
 * What each command needs, read from SPEC §3's "what it allows" column. null: anyone of the
 * organization (the command touches only the actor's own data: profile, inbox, presence, own keys).
 */
const NEEDS: Record<CommandName, Permission | readonly Permission[] | null> = {
  'me.get': null,
  'org.get': null,
  // §3 has no row for the organization's own settings; renaming it is an administrator's task, as
  // everything under team:manage is.
  'org.update': 'team:manage',
  'org.delete': 'org:delete',
  'member.list': 'team:read',
  'member.invite': 'team:manage',
  'member.changeRole': 'team:manage',
  'member.remove': 'team:manage',
  // Pending invitations are part of managing the team (they name people who are not members yet).
  'invite.list': 'team:manage',
  'invite.revoke': 'team:manage',
  'ciUser.create': 'team:manage',
  'ciUser.remove': 'team:manage',
  'support.authorize': 'team:manage',
  'support.disable': 'team:manage',
  'apiKey.list': null,
  'apiKey.create': 'apikey:write',
  'apiKey.revoke': 'apikey:write',
  'audit.query': 'audit:read',
  'audit.verify': 'audit:read',
  'notification.list': null,
  'notification.markRead': null,
  'notification.settings': null,
  'presence.update': null,
  'project.list': 'config:read',
  'project.get': 'config:read',
  'project.create': 'config:write',
  'project.update': 'config:write',
  'project.delete': 'project:delete',
  'artifactConfig.list': 'config:read',
  'artifactConfig.create': 'config:write',
  'artifactConfig.update': 'config:write',
  'artifactConfig.delete': 'config:write',
  'certificate.list': 'config:read',
  'certificate.generate': 'certificate:write',
  'certificate.import': 'certificate:write',
  // §3 "generate, import": a key with a CSR for a CA, and later the certificate the CA issued. The CSR
  // is handed out only with the same permission (and audited), as part of that step.
  'certificate.generateCsr': 'certificate:write',
  'certificate.downloadCsr': 'certificate:write',
  'certificate.importIssued': 'certificate:write',
  'certificate.update': 'certificate:write',
  'policy.list': 'config:read',
  'policy.create': 'policy:write',
  'policy.update': 'policy:write',
  'policy.delete': 'policy:write',
  'buildSystem.list': 'config:read',
  // Trusted build systems vouch for origins, like the repository URL: policy:write.
  'buildSystem.create': 'policy:write',
  'buildSystem.delete': 'policy:write',
  // Webhooks belong to a project's configuration (§4).
  'webhook.list': 'config:read',
  'webhook.create': 'config:write',
  'webhook.update': 'config:write',
  'webhook.delete': 'config:write',
  // A project's chat channels are told about its requests, like its webhooks (SPEC §5).
  'chatChannel.list': 'config:read',
  'chatChannel.create': 'config:write',
  'chatChannel.delete': 'config:write',
  'request.list': 'signing:read',
  'request.get': 'signing:read',
  'request.approve': 'signing:approve',
  'request.deny': 'signing:approve',
  'request.cancel': 'signing:submit',
  'request.resubmit': 'signing:submit',
  // The dashboard's pictures are of signing requests; the certificates' part is left out without config:read.
  'dashboard.stats': 'signing:read',
  // §4 "an admin may approve alone": break-glass is approving (signing:approve) by whoever could
  // rewrite the policy to approve alone anyway (policy:write, which only owners and admins hold).
  'request.breakGlass': ['signing:approve', 'policy:write'],
  // §4 pre-approved windows: approvals given ahead, so §3's signing:approve ("approve or deny — and
  // only where a signing policy names you an approver"); seeing them is seeing approvals (signing:read).
  'grant.list': 'signing:read',
  'grant.propose': 'signing:approve',
  'grant.cosign': 'signing:approve',
  'grant.revoke': 'signing:approve',
};

/** Rules beyond the permission: §4 (policies name submitters and approvers) and §2 (support access ends at once when disabled). */
type Rule = 'namedSubmitter' | 'namedApprover' | 'namedApproverOrPolicyWriter' | 'notSupport';
const RULES: Partial<Record<CommandName, Rule>> = {
  'request.approve': 'namedApprover',
  'request.deny': 'namedApprover',
  'grant.propose': 'namedApprover',
  'grant.cosign': 'namedApprover',
  // Revoking only takes approval away: the policy's approvers, or whoever may edit the policy.
  'grant.revoke': 'namedApproverOrPolicyWriter',
  // Approving alone is the organization's own administrators' call, not the vendor's support user's.
  'request.breakGlass': 'notSupport',
  'request.resubmit': 'namedSubmitter',
  // Credentials made by the support user would outlive its access.
  'member.invite': 'notSupport',
  'ciUser.create': 'notSupport',
  'apiKey.create': 'notSupport',
};

// ——— Who tries ———

interface PrincipalSpec {
  label: string;
  permissions: ReadonlySet<Permission>;
  /** Named in the fixture's signing policy (the fixture names every person who may, and the CI user as submitter). */
  namedSubmitter: boolean;
  namedApprover: boolean;
  support?: boolean;
  /**
   * The single-permission keys try each refusal over one transport (alternating); everyone else
   * over both. Every command is refused over both transports to someone either way.
   */
  oneTransport?: boolean;
  /** Connects (or re-uses) its socket and says how it authenticates over REST. */
  setUp(): Promise<Live>;
}

interface Live {
  who: Who;
  /** The id a denial entry's actor carries. */
  auditId: string;
  socket: ClientSocket;
  auth: { cookie?: string; token?: string; org?: string };
}

let node: SignetNode;
let fx: SecurityFixture;
let artifactDir: string;
const opened: ClientSocket[] = [];
/** Tokens of keys the owner made with a single permission each. */
const singleKeys = new Map<Permission, { id: string; token: string }>();
const demoted = { userId: '', keyId: '', token: '' };
/** A key with every permission that expires while the tests run, and its socket. */
const expiring = { token: '', socket: undefined as unknown as ClientSocket };
const operator = { userId: '', email: '', password: '', cookie: '' };

async function open(options: Parameters<typeof connect>[1]): Promise<ClientSocket> {
  const socket = await connect(node, options);
  opened.push(socket);
  return socket;
}

function person(key: 'owner' | 'admin' | 'member' | 'viewer' | 'analyst', role: Role, label: string): PrincipalSpec {
  const mayApprove = ROLE_PERMISSIONS[role].has('signing:approve');
  return {
    label,
    permissions: ROLE_PERMISSIONS[role],
    namedSubmitter: mayApprove,
    namedApprover: mayApprove,
    async setUp() {
      const p = fx.people[key];
      return { who: { userId: p.userId, permissions: ROLE_PERMISSIONS[role] }, auditId: p.userId, socket: p.socket, auth: { cookie: p.cookie } };
    },
  };
}

const PRINCIPALS: PrincipalSpec[] = [
  person('owner', 'owner', 'the owner'),
  person('admin', 'admin', 'an admin'),
  person('member', 'member', 'a member'),
  // SPEC §3: the legacy role behaves exactly as member.
  person('analyst', 'member', 'a stored legacy analyst'),
  person('viewer', 'viewer', 'a viewer'),
  {
    label: 'a CI user (API token)',
    // A CI user made with the member role; it submits where policies name it, and approves nowhere.
    permissions: ROLE_PERMISSIONS.member,
    namedSubmitter: true,
    namedApprover: false,
    async setUp() {
      return { who: { userId: fx.ci.userId, permissions: ROLE_PERMISSIONS.member }, auditId: fx.ci.userId, socket: await open({ token: fx.ci.token }), auth: { token: fx.ci.token } };
    },
  },
  // The owner's keys: each carries one permission, which is all it may use.
  ...ALL_PERMISSIONS.map(
    (permission): PrincipalSpec => ({
      label: `an API key with only ${permission}`,
      permissions: new Set([permission]),
      oneTransport: true,
      namedSubmitter: true,
      namedApprover: true,
      async setUp() {
        const key = singleKeys.get(permission)!;
        return { who: { userId: fx.people.owner.userId, permissions: new Set([permission]) }, auditId: key.id, socket: await open({ token: key.token }), auth: { token: key.token } };
      },
    }),
  ),
  {
    // Made by a member with config:write, apikey:write, signing:read and team:read, who is a viewer now.
    label: 'an API key whose owner was demoted to viewer',
    permissions: new Set<Permission>(['signing:read', 'team:read']),
    namedSubmitter: false,
    namedApprover: false,
    async setUp() {
      const permissions = new Set<Permission>(['signing:read', 'team:read']);
      return { who: { userId: demoted.userId, permissions, ownKeyId: demoted.keyId }, auditId: demoted.keyId, socket: await open({ token: demoted.token }), auth: { token: demoted.token } };
    },
  },
  {
    // Last of those who act: its own support.disable ends it.
    label: 'the support user (authorized)',
    permissions: ROLE_PERMISSIONS.admin,
    namedSubmitter: false,
    namedApprover: false,
    support: true,
    async setUp() {
      if (!(await fx.asOwner('org.get')).supportAuthorized) await fx.asOwner('support.authorize');
      const who = { userId: operator.userId, permissions: ROLE_PERMISSIONS.admin, support: true };
      return { who, auditId: operator.userId, socket: await open({ cookie: operator.cookie, org: fx.org.slug }), auth: { cookie: operator.cookie, org: fx.org.slug } };
    },
  },
];

// ——— What is tried ———

type Transport = 'socket' | 'rest';

interface Reply {
  ok: boolean;
  code?: string;
  message?: string;
  issues?: Array<{ path: string }>;
  result?: unknown;
}

interface Case {
  title: string;
  /** The permission it needs (all of them, when several). */
  needs: Permission | readonly Permission[] | null;
  rule?: Rule;
  /** Whoever may gets only as far as the confirmation (org.delete is never carried out here). */
  confirmOnly?: boolean;
  /** The action a denial is audited under. */
  action: string;
  transports: Transport[];
  input(live: Live): Promise<Record<string, unknown>>;
  send(live: Live, transport: Transport, input: Record<string, unknown>): Promise<Reply>;
}

async function sendCommand(live: Live, transport: Transport, name: string, input: unknown): Promise<Reply> {
  if (transport === 'socket') {
    const ack = await command(live.socket, name, input);
    return ack.ok ? { ok: true, result: ack.result } : { ok: false, ...ack.error };
  }
  const response = await restCommand(node, name, input, live.auth);
  return response.body.ok ? { ok: true, result: response.body.result } : { ok: false, ...response.body.error };
}

/** A call to the REST API for CI, authenticated as `live` (a cookie goes with the console's Origin, as the browser sends it). */
async function rest(auth: Live['auth'], method: string, pathname: string, body?: FormData | object): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.cookie) Object.assign(headers, { cookie: auth.cookie, origin: ORIGIN });
  if (body && !(body instanceof FormData)) headers['content-type'] = 'application/json';
  const response = await fetch(`${node.url}/api/v1/orgs/${fx.org.slug}${pathname}`, {
    method,
    headers,
    body: body instanceof FormData ? body : body ? JSON.stringify(body) : undefined,
  });
  if (response.ok) {
    await response.arrayBuffer();
    return { ok: true };
  }
  const error = (await jsonOrText(response)).error ?? { code: `HTTP ${response.status}` };
  return { ok: false, ...error };
}

function upload(): FormData {
  const form = new FormData();
  form.append('projectSlug', fx.standing.projectSlug);
  form.append('signingPolicySlug', fx.standing.policySlug);
  form.append('artifact', new Blob([new TextEncoder().encode(`tried by ${fx.unique('someone')}\n`)]), 'app.bin');
  return form;
}

const COMMAND_CASES: Case[] = (Object.keys(NEEDS) as CommandName[]).map((name) => ({
  title: name,
  needs: NEEDS[name],
  rule: RULES[name],
  confirmOnly: name === 'org.delete',
  action: name,
  transports: ['socket', 'rest'],
  input: (live) => EXAMPLES[name](fx, live.who),
  send: (live, transport, input) => sendCommand(live, transport, name, input),
}));

const CASES: Case[] = [
  ...COMMAND_CASES,
  {
    // SPEC §3: origin verification trusts the repository URL, so it is policy:write's, not config:write's.
    // It is edited through project.update, which is config:write's (§3: "create and edit projects"):
    // changing the URL takes both, as every role that has policy:write has config:write too.
    title: 'project.update of the repository URL',
    needs: ['config:write', 'policy:write'],
    action: 'project.update',
    transports: ['socket', 'rest'],
    input: async () => ({
      projectId: fx.standing.projectId,
      version: (await fx.asOwner('project.get', { projectId: fx.standing.projectId })).project.version,
      repositoryUrl: `https://github.com/mallory/${fx.unique('fork')}`,
    }),
    send: (live, transport, input) => sendCommand(live, transport, 'project.update', input),
  },
  {
    title: 'POST /signing-requests (submit)',
    needs: 'signing:submit',
    rule: 'namedSubmitter',
    action: 'request.submit',
    transports: ['rest'],
    input: async () => ({}),
    send: (live) => rest(live.auth, 'POST', '/signing-requests', upload()),
  },
  {
    title: 'GET /signing-requests/{id}',
    needs: 'signing:read',
    action: 'request.get',
    transports: ['rest'],
    input: async () => ({}),
    send: (live) => rest(live.auth, 'GET', `/signing-requests/${fx.standing.waitingRequestId}`),
  },
  {
    title: 'GET /signing-requests/{id}/signed-artifact',
    needs: 'signing:read',
    action: 'request.download',
    transports: ['rest'],
    input: async () => ({}),
    send: (live) => rest(live.auth, 'GET', `/signing-requests/${fx.standing.completedRequestId}/signed-artifact`),
  },
  {
    title: 'GET /signing-requests/{id}/unsigned-artifact',
    needs: 'signing:read',
    action: 'request.download',
    transports: ['rest'],
    input: async () => ({}),
    send: (live) => rest(live.auth, 'GET', `/signing-requests/${fx.standing.completedRequestId}/unsigned-artifact`),
  },
  {
    title: 'POST /signing-requests/{id}/resubmit',
    needs: 'signing:submit',
    rule: 'namedSubmitter',
    action: 'request.resubmit',
    transports: ['rest'],
    input: async (live) => ({ requestId: await fx.finalRequest(live.who.userId) }),
    send: (live, _transport, input) => rest(live.auth, 'POST', `/signing-requests/${input.requestId}/resubmit`, { description: 'once more' }),
  },
  {
    title: 'GET /audit (NDJSON export)',
    needs: 'audit:read',
    action: 'audit.export',
    transports: ['rest'],
    input: async () => ({}),
    send: (live) => rest(live.auth, 'GET', '/audit?limit=5'),
  },
];

interface Expectation {
  outcome: 'ok' | 'forbidden' | 'confirm';
  why: string;
}

/** The outcome SPEC promises when `principal` tries `c`. */
function expected(principal: PrincipalSpec, c: Case): Expectation {
  const lacking = [c.needs ?? []].flat().filter((permission) => !principal.permissions.has(permission));
  if (lacking.length) return { outcome: 'forbidden', why: `it needs ${lacking.join(' and ')}` };
  if (c.rule === 'notSupport' && principal.support) return { outcome: 'forbidden', why: 'the support user makes no credentials that would outlive its access' };
  if (c.rule === 'namedApprover' && !principal.namedApprover) return { outcome: 'forbidden', why: 'no signing policy names it an approver' };
  if (c.rule === 'namedApproverOrPolicyWriter' && !principal.namedApprover && !principal.permissions.has('policy:write')) {
    return { outcome: 'forbidden', why: 'no signing policy names it an approver, and it may not edit policies' };
  }
  if (c.rule === 'namedSubmitter' && !principal.namedSubmitter) return { outcome: 'forbidden', why: 'no signing policy names it a submitter' };
  if (c.confirmOnly) return { outcome: 'confirm', why: 'it gets as far as typing the slug to confirm' };
  return { outcome: 'ok', why: c.needs ? `it has ${[c.needs].flat().join(' and ')}` : 'it concerns only its own data' };
}

// ——— Checks ———

/** The audit log's entries, seals and indexes (large, and the sealer rewrites them on its own): counted, never compared. */
const isAuditBody = (key: string) => /:audit($|:target:|:seals$|:checkpoints$|:head$|:unsealed$)/.test(key);
/** The counters of the audit log and event stream, and the stream itself (compared by length). */
const isAuditOrEventCount = (key: string) => /:seq$/.test(key) || /:events$/.test(key);

/**
 * Everything of record but the audit log. Left out besides: the job queue's own bookkeeping (it
 * changes on its own timers), API keys' last-used times (using a key changes nothing of record)
 * and the webhook deliveries the queue takes over after a commit.
 */
async function stateOfRecord(): Promise<Record<string, string>> {
  return Object.fromEntries(Object.entries(await stateWithAuditCounts()).filter(([key]) => !isAuditOrEventCount(key)));
}

/** The same, with how many audit entries and events each organization has. */
async function stateWithAuditCounts(): Promise<Record<string, string>> {
  const { keys } = node.signet;
  return snapshot(node, (key) => !isAuditBody(key) && !key.startsWith(`${keys.bullPrefix}:`) && !key.endsWith(':lastUsed') && key !== keys.webhooksPending);
}

const auditSeq = async (orgId = fx.org.orgId) => Number((await node.signet.redis.get(node.signet.keys.auditSeq(orgId))) ?? 0);
async function auditEntry(seq: number, orgId = fx.org.orgId) {
  const [raw] = await node.signet.redis.zrangebyscore(node.signet.keys.audit(orgId), seq, seq);
  return raw ? JSON.parse(raw) : null;
}

/** Tries `c` as `live` over `transport`: refused with FORBIDDEN, and exactly one denial entry written. */
async function expectForbidden(live: Live, c: Case, transport: Transport, input: Record<string, unknown>, why: string) {
  const before = await auditSeq();
  const reply = await c.send(live, transport, input);
  expect(reply, `${c.title} over ${transport}`).toMatchObject({ ok: false, code: 'FORBIDDEN' });
  // A refusal for a missing permission names one the principal lacks.
  if (why.startsWith('it needs ')) expect(ALL_PERMISSIONS.filter((p) => !live.who.permissions.has(p)).some((p) => reply.message!.includes(p)), reply.message).toBe(true);
  expect(await auditSeq(), 'exactly one audit entry: the denial').toBe(before + 1);
  expect(await auditEntry(before + 1)).toMatchObject({ action: c.action, outcome: 'denied', actor: { id: live.auditId }, source: { via: transport } });
}

async function expectAllowed(live: Live, c: Case, transport: Transport, outcome: Expectation['outcome']) {
  const reply = await c.send(live, transport, await c.input(live));
  if (outcome === 'confirm') {
    expect(reply).toMatchObject({ ok: false, code: 'INVALID_INPUT', issues: [{ path: 'confirmSlug' }] });
  } else {
    expect(reply.code ? `${reply.code}: ${reply.message}` : 'ok', `${c.title} over ${transport}`).toBe('ok');
  }
}

/**
 * A refused call changes nothing, so its target can serve every refusal of the same identity: made
 * once per case and identity (a version in it may be stale by then, which a permission check
 * refuses before it looks).
 */
const refusalInputs = new Map<string, Promise<Record<string, unknown>>>();
function refusalInput(c: Case, live: Live): Promise<Record<string, unknown>> {
  const key = `${c.title}|${live.who.userId}|${live.who.ownKeyId ?? ''}`;
  if (!refusalInputs.has(key)) refusalInputs.set(key, c.input(live));
  return refusalInputs.get(key)!;
}

// ——— Fixtures ———

beforeAll(async () => {
  artifactDir = await mkdtemp(path.join(os.tmpdir(), 'signet-permissions-'));
  // One node; the rate limit is not under test here.
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_RATE_LIMIT_PER_MINUTE: '1000000' }));
  fx = await buildFixture(node);
  for (const permission of ALL_PERMISSIONS) {
    const created = await fx.asOwner('apiKey.create', { name: `only ${permission}`, permissions: [permission] });
    singleKeys.set(permission, { id: created.apiKey.id, token: created.token });
  }
  // A member makes a key, and is then demoted to viewer.
  const dana = await addMemberDirectly(node.signet, fx.org.orgId, { email: `dana@${fx.org.slug}.example.com`, name: 'Dana Demoted', role: 'member', password: fx.people.owner.password }, OPERATOR, CLI_SOURCE);
  const danaSocket = await open({ cookie: await signIn(node, { email: `dana@${fx.org.slug}.example.com`, password: fx.people.owner.password }) });
  const danaKey = await must(danaSocket, 'apiKey.create', { name: 'made as a member', permissions: ['config:write', 'apikey:write', 'signing:read', 'team:read'] });
  Object.assign(demoted, { userId: dana.userId, keyId: danaKey.apiKey.id, token: danaKey.token });
  await fx.asOwner('member.changeRole', { userId: dana.userId, role: 'viewer', version: dana.version });

  const shortLived = await fx.asOwner('apiKey.create', { name: 'short-lived', permissions: ALL_PERMISSIONS, expiresAt: new Date(Date.now() + 5000).toISOString() });
  expiring.token = shortLived.token;
  expiring.socket = await open({ token: shortLived.token });

  const credentials = await createOperator(node.signet, `support-${fx.org.slug}@vendor.example.com`, 'Sam Support');
  const login = await http(node, 'POST', '/api/v1/auth/login', { body: credentials });
  Object.assign(operator, credentials, { userId: login.body.result.user.id, cookie: login.headers.get('set-cookie')!.split(';')[0]! });
});

afterAll(async () => {
  for (const socket of opened) socket.close();
  fx?.close();
  await node?.close();
  if (artifactDir) await rm(artifactDir, { recursive: true, force: true });
});

describe('the table (sanity checks)', () => {
  it('SPEC §3 lists 13 permissions, and the owner has all of them', () => {
    expect(ALL_PERMISSIONS).toHaveLength(13);
    expect([...ROLE_PERMISSIONS.owner].sort()).toEqual([...ALL_PERMISSIONS].sort());
  });

  it('the fixture is as the examples need it', async () => {
    const get = (requestId: string) => fx.asOwner('request.get', { requestId });
    expect((await get(fx.standing.waitingRequestId)).request.workflowStatus).toBe('WaitingForApproval');
    expect((await get(fx.standing.completedRequestId)).request.workflowStatus).toBe('Completed');
    expect((await fx.asOwner('member.list')).find((m: { userId: string }) => m.userId === fx.people.analyst.userId).role).toBe('analyst');
  });

  it('every case is refused to someone and allowed to someone', () => {
    for (const c of CASES) {
      const outcomes = new Set(PRINCIPALS.map((principal) => expected(principal, c).outcome));
      expect(outcomes.has('forbidden') || c.needs === null, `${c.title} is refused to nobody`).toBe(true);
      expect(outcomes.has('ok') || outcomes.has('confirm'), `${c.title} is allowed to nobody`).toBe(true);
    }
  });
});

for (const principal of PRINCIPALS) {
  const refused = CASES.map((c) => ({ c, ...expected(principal, c) })).filter((e) => e.outcome === 'forbidden');
  // support.disable last: the support user's own ends it.
  const allowed = CASES.map((c) => ({ c, ...expected(principal, c) }))
    .filter((e) => e.outcome !== 'forbidden')
    .sort((a, b) => Number(a.c.title === 'support.disable') - Number(b.c.title === 'support.disable'));

  describe(principal.label, () => {
    let live: Live;
    const inputs = new Map<Case, Record<string, unknown>>();
    let before: Record<string, string>;

    beforeAll(async () => {
      live = await principal.setUp();
      // Every target is made first; from here on, only the refused calls run.
      for (const { c } of refused) inputs.set(c, await refusalInput(c, live));
      before = await stateOfRecord();
    });
    // Sockets opened for this principal go with it (the people's own stay: the fixture uses them).
    afterAll(() => {
      if (opened.includes(live.socket)) live.socket.close();
    });

    refused.forEach(({ c, why }, index) => {
      const transports = principal.oneTransport ? [c.transports[index % c.transports.length]!] : c.transports;
      it(`cannot ${c.title} (${transports.join(', ')}): ${why}`, async () => {
        for (const transport of transports) await expectForbidden(live, c, transport, inputs.get(c)!, why);
      });
    });

    if (refused.length) {
      it('none of those refusals changed anything but the audit log', async () => {
        expect(await stateOfRecord()).toEqual(before);
      });
    }

    allowed.forEach(({ c, outcome, why }, index) => {
      // Each allowed call runs once, alternating between the transports it has.
      const transport = c.transports[index % c.transports.length]!;
      it(`can ${c.title} (${transport}): ${why}`, async () => {
        await expectAllowed(live, c, transport, outcome);
      });
    });
  });
}

describe('the signing rules of the policies (SPEC §4)', () => {
  let narrowPolicySlug: string;
  const people = () => fx.people;

  beforeAll(async () => {
    // Only the admin submits, only the owner approves.
    narrowPolicySlug = (
      await fx.asOwner('policy.create', {
        projectId: fx.standing.projectId,
        slug: 'narrow',
        name: 'Narrow',
        certificateId: fx.standing.certificateId,
        submitters: [people().admin.userId],
        approvers: [people().owner.userId],
        requiredApprovals: 1,
      })
    ).slug;
  });

  const submitTo = (token: string, policySlug: string) =>
    submitOk(node, fx.org.slug, token, { projectSlug: fx.standing.projectSlug, signingPolicySlug: policySlug, artifact: Buffer.from(`for ${fx.unique('rule')}\n`) });

  it('a member whom the policy does not name a submitter cannot submit to it: FORBIDDEN, audited, nothing kept', async () => {
    const before = await stateOfRecord();
    const seq = await auditSeq();
    const form = upload();
    form.set('signingPolicySlug', narrowPolicySlug);
    const reply = await rest({ token: people().member.submitToken! }, 'POST', '/signing-requests', form);
    expect(reply).toMatchObject({ ok: false, code: 'FORBIDDEN', message: expect.stringMatching(/not a submitter/) });
    expect(await auditEntry(seq + 1)).toMatchObject({ action: 'request.submit', outcome: 'denied' });
    expect(await auditSeq()).toBe(seq + 1);
    expect(await stateOfRecord()).toEqual(before);
  });

  it('a viewer cannot be named a submitter or an approver', async () => {
    for (const field of ['submitters', 'approvers']) {
      const reply = await command(people().owner.socket, 'policy.create', {
        projectId: fx.standing.projectId,
        slug: fx.unique('with-viewer'),
        name: 'With a viewer',
        certificateId: fx.standing.certificateId,
        [field]: [people().viewer.userId],
      });
      expect(reply.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: field }] });
    }
  });

  it('an approver whom the policy does not name cannot approve or deny; the one it names can', async () => {
    const requestId = (await submitTo(people().admin.submitToken!, narrowPolicySlug)).id;
    const before = await stateOfRecord();
    for (const name of ['request.approve', 'request.deny']) {
      const reply = await command(people().member.socket, name, { requestId, comment: 'me too' });
      expect(reply.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/not an approver/) });
    }
    expect(await stateOfRecord()).toEqual(before);
    expect((await command(people().owner.socket, 'request.approve', { requestId })).ok).toBe(true);
    // Signed before the next test compares states.
    await waitForStatus(people().owner.socket, requestId, 'Completed', { ask: true });
  });

  it('a submitter never approves or denies their own request, even when the policy names them an approver', async () => {
    const requestId = (await submitTo(people().member.submitToken!, fx.standing.policySlug)).id;
    const before = await stateOfRecord();
    for (const name of ['request.approve', 'request.deny']) {
      const reply = await command(people().member.socket, name, { requestId, comment: 'mine is fine' });
      expect(reply.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/own request/) });
    }
    expect(await stateOfRecord()).toEqual(before);
  });

  it('one approver counts once: a second approval, over any transport or key, is a CONFLICT', async () => {
    const admin = people().admin;
    const approveKey = (await must(admin.socket, 'apiKey.create', { name: 'approves', permissions: ['signing:approve', 'signing:read'] })).token;
    const requestId = await fx.waitingRequest();
    expect((await command(admin.socket, 'request.approve', { requestId })).ok).toBe(true);
    const again = [await command(admin.socket, 'request.approve', { requestId }), (await restCommand(node, 'request.approve', { requestId }, { token: approveKey })).body];
    for (const reply of again) expect(reply.error).toMatchObject({ code: 'CONFLICT' });
    const request = (await fx.asOwner('request.get', { requestId })).request;
    expect(request).toMatchObject({ workflowStatus: 'WaitingForApproval', approvals: [{ userId: admin.userId }] });
  });

  it('one approver approving twice at the same moment (socket and key) counts once', async () => {
    const admin = people().admin;
    const approveKey = (await must(admin.socket, 'apiKey.create', { name: 'approves at once', permissions: ['signing:approve'] })).token;
    const requestId = await fx.waitingRequest();
    const replies = await Promise.all([
      command(admin.socket, 'request.approve', { requestId }),
      restCommand(node, 'request.approve', { requestId }, { token: approveKey }).then((response) => response.body),
    ]);
    expect(replies.filter((reply) => reply.ok)).toHaveLength(1);
    expect(replies.find((reply) => !reply.ok)!.error).toMatchObject({ code: 'CONFLICT' });
    const request = (await fx.asOwner('request.get', { requestId })).request;
    expect(request.workflowStatus).toBe('WaitingForApproval');
    expect(request.approvals).toHaveLength(1);
  });

  it('a member cancels or re-submits only their own requests', async () => {
    const others = await fx.waitingRequest();
    const othersFinal = await fx.finalRequest();
    const before = await stateOfRecord();
    expect((await command(people().member.socket, 'request.cancel', { requestId: others })).error).toMatchObject({ code: 'FORBIDDEN' });
    expect((await command(people().member.socket, 'request.resubmit', { requestId: othersFinal })).error).toMatchObject({ code: 'FORBIDDEN' });
    expect(await stateOfRecord()).toEqual(before);
  });
});

/** Every command over REST, and every REST endpoint: each refused with one of `codes`, and nothing at all written (not even to the audit log). */
async function expectShutOut(auth: Live['auth'], codes: string[], afterInputs: () => Promise<unknown> = async () => {}) {
  const live: Live = { who: { userId: 'nobody', permissions: new Set() }, auditId: '', socket: undefined as never, auth };
  const inputs = new Map<Case, Record<string, unknown>>();
  const restCases = CASES.filter((c) => c.transports.includes('rest'));
  for (const c of restCases) inputs.set(c, await c.input(live));
  await afterInputs();
  const before = await stateWithAuditCounts();
  for (const c of restCases) {
    const reply = await c.send(live, 'rest', inputs.get(c)!);
    expect(reply.ok, c.title).toBe(false);
    expect(codes, `${c.title}: ${reply.code} ${reply.message}`).toContain(reply.code);
  }
  const after = await stateWithAuditCounts();
  expect(Object.keys(after).filter((key) => after[key] !== before[key])).toEqual([]);
}

describe('the REST endpoints outside the commands (server/http/api.ts)', () => {
  it('health, metrics, the published protocol and the setup state answer anyone, and tell nothing of an organization', async () => {
    for (const pathname of ['/healthz', '/readyz', '/metrics', '/api/v1/protocol.json', '/api/v1/openapi.json', '/api/v1/setup']) {
      const response = await fetch(`${node.url}${pathname}`);
      expect(response.status, pathname).toBe(200);
      const body = await response.text();
      for (const ours of [fx.org.orgId, fx.org.slug, fx.people.owner.email]) expect(body, pathname).not.toContain(ours);
    }
  });

  it('the session endpoint answers only a session cookie, with that user and their organizations', async () => {
    const seen = await http(node, 'GET', '/api/v1/auth/session', { cookie: fx.people.member.cookie });
    expect(seen.body.result).toMatchObject({ user: { id: fx.people.member.userId }, orgs: [{ slug: fx.org.slug, role: 'member' }] });
    for (const auth of [{}, { token: fx.ci.token }, { cookie: 'signet_session=made-up' }]) {
      expect((await http(node, 'GET', '/api/v1/auth/session', auth)).status, JSON.stringify(auth)).toBe(401);
    }
  });

  it('sign-in, invitations and setup refuse bad credentials without writing anything but the failed sign-in', async () => {
    const before = await stateOfRecord();
    expect((await http(node, 'POST', '/api/v1/auth/accept-invite', { body: { token: 'x'.repeat(43), name: 'Nobody', password: 'a long enough password' } })).status).toBe(404);
    expect((await http(node, 'POST', '/api/v1/setup', { body: { token: 'x'.repeat(43), orgSlug: 'taken-over', orgName: 'Taken', ownerEmail: 'm@example.com', ownerName: 'M', ownerPassword: 'a long enough password' } })).status).toBe(404);
    expect((await http(node, 'POST', '/api/v1/auth/login', { body: { email: fx.people.admin.email, password: 'not the password at all' } })).status).toBe(401);
    expect(await stateOfRecord()).toEqual(before);
  });
});

describe('credentials that no longer count open nothing, and leave no trace', () => {
  it('an expired API key: its socket is cut off when it expires; then 401 everywhere', async () => {
    if (!expiring.socket.received.some((r) => r.event === 'revoked')) await new Promise((resolve) => expiring.socket.once('revoked', resolve));
    await expect(open({ token: expiring.token })).rejects.toThrow(/expired/);
    await expectShutOut({ token: expiring.token }, ['UNAUTHENTICATED']);
  });

  it('a revoked API key: 401 everywhere, and its handshake is refused', async () => {
    const created = await fx.asOwner('apiKey.create', { name: 'revoked', permissions: ALL_PERMISSIONS });
    await fx.asOwner('apiKey.revoke', { keyId: created.apiKey.id });
    await expect(open({ token: created.token })).rejects.toThrow();
    await expectShutOut({ token: created.token }, ['UNAUTHENTICATED']);
  });

  it('a removed member: their open socket is cut off before the removal is acknowledged; their cookie and key then open nothing', async () => {
    const email = `rex@${fx.org.slug}.example.com`;
    const rex = await addMemberDirectly(node.signet, fx.org.orgId, { email, name: 'Rex Removed', role: 'member', password: fx.people.owner.password }, OPERATOR, CLI_SOURCE);
    const cookie = await signIn(node, { email, password: fx.people.owner.password });
    const socket = await open({ cookie });
    const key = await must(socket, 'apiKey.create', { name: 'rex key', permissions: ['signing:read', 'config:write'] });
    const disconnected = new Promise((resolve) => socket.once('disconnect', resolve));

    await fx.asOwner('member.remove', { userId: rex.userId });
    expect([...node.io.of('/').sockets.values()].filter((s) => s.data?.userId === rex.userId)).toEqual([]);
    await disconnected;
    expect(socket.received.map((r) => r.event)).toContain('revoked');

    await expect(open({ cookie, org: fx.org.slug })).rejects.toThrow(/not a member/);
    await expect(open({ token: key.token })).rejects.toThrow();
    await expectShutOut({ cookie, org: fx.org.slug }, ['FORBIDDEN', 'UNAUTHENTICATED']);
    await expectShutOut({ token: key.token }, ['UNAUTHENTICATED']);
  });

  it('the support user once support is disabled: its socket is cut off, then 401 everywhere', async () => {
    if (!(await fx.asOwner('org.get')).supportAuthorized) await fx.asOwner('support.authorize');
    const socket = await open({ cookie: operator.cookie, org: fx.org.slug });
    const disconnected = new Promise((resolve) => socket.once('disconnect', resolve));
    await fx.asOwner('support.disable');
    await disconnected;
    await expect(open({ cookie: operator.cookie, org: fx.org.slug })).rejects.toThrow(/not authorized/);
    // (The example for support.disable authorizes support first.)
    const disabled = async () => (await fx.asOwner('org.get')).supportAuthorized && fx.asOwner('support.disable');
    await expectShutOut({ cookie: operator.cookie, org: fx.org.slug }, ['UNAUTHENTICATED'], disabled);
  });
});

describe('a member of another organization using this organization’s ids', () => {
  const other = { slug: '', cookie: '', token: '', socket: undefined as unknown as ClientSocket };
  /** Strings that would show this organization's data leaked into an answer. */
  let ours: string[];

  beforeAll(async () => {
    other.slug = `tenant-b-${fx.unique('org')}`;
    const password = 'another organization password';
    const created = await createOrganization(
      node.signet,
      { orgSlug: other.slug, orgName: 'Other Org', ownerEmail: `owner@${other.slug}.example.com`, ownerName: 'Otto Other', ownerPassword: password },
      OPERATOR,
      CLI_SOURCE,
    );
    expect(created.org.slug).toBe(other.slug);
    other.cookie = await signIn(node, { email: `owner@${other.slug}.example.com`, password });
    other.socket = await open({ cookie: other.cookie });
    other.token = (await must(other.socket, 'apiKey.create', { name: 'everything', permissions: ALL_PERMISSIONS })).token;
    ours = [fx.org.orgId, fx.org.slug, fx.standing.projectId, fx.standing.policyId, fx.standing.waitingRequestId, fx.people.member.userId, fx.ci.userId];
  });

  const namesAnEntity = (input: Record<string, unknown>) => Object.keys(input).some((field) => /Id$/.test(field) || field === 'set');
  const readsOnly = (name: string) => /\.(list|get|query|verify)$/.test(name);

  it('their owner, with every permission, reaches nothing of ours through any command (socket, REST, full key): NOT_FOUND or INVALID_INPUT, nothing changes, nothing of ours is answered', async () => {
    const outsider: Live = { who: { userId: 'outsider', permissions: new Set(ALL_PERMISSIONS) }, auditId: '', socket: other.socket, auth: { cookie: other.cookie } };
    const viaKey: Live = { ...outsider, auth: { token: other.token } };
    const tried: Array<{ name: string; input: Record<string, unknown> }> = [];
    for (const c of COMMAND_CASES) {
      const input = await c.input(outsider);
      if (namesAnEntity(input) || readsOnly(c.title)) tried.push({ name: c.title, input });
    }
    expect(tried.length).toBeGreaterThan(30);
    const before = await stateOfRecord();
    for (const { name, input } of tried) {
      for (const [live, transport] of [[outsider, 'socket'], [outsider, 'rest'], [viaKey, 'rest']] as const) {
        const reply = await sendCommand(live, transport, name, input);
        if (namesAnEntity(input)) expect(['NOT_FOUND', 'INVALID_INPUT'], `${name} over ${transport}: ${reply.code} ${reply.message}`).toContain(reply.code);
        if (reply.ok) for (const secret of ours) expect(JSON.stringify(reply.result), `${name} answered with our ${secret}`).not.toContain(secret);
      }
    }
    expect(await stateOfRecord()).toEqual(before);
  });

  it('their key on our organization’s REST paths, or on theirs with our ids: 404', async () => {
    const id = fx.standing.completedRequestId;
    for (const slug of [fx.org.slug, other.slug]) {
      for (const [method, pathname] of [
        ['GET', `/signing-requests/${id}`],
        ['GET', `/signing-requests/${id}/signed-artifact`],
        ['GET', `/signing-requests/${id}/unsigned-artifact`],
        ['POST', `/signing-requests/${id}/resubmit`],
      ] as const) {
        const response = await fetch(`${node.url}/api/v1/orgs/${slug}${pathname}`, { method, headers: { authorization: `Bearer ${other.token}` } });
        expect(response.status, `${method} ${slug}${pathname}`).toBe(404);
        expect(await response.text()).not.toContain(fx.standing.projectSlug);
      }
    }
    const exported = await fetch(`${node.url}/api/v1/orgs/${fx.org.slug}/audit`, { headers: { authorization: `Bearer ${other.token}` } });
    expect(exported.status).toBe(404);
  });

  it('their cookie naming our organization is refused over REST and at the handshake, with nothing written', async () => {
    const seq = await auditSeq();
    const reply = await restCommand(node, 'member.list', {}, { cookie: other.cookie, org: fx.org.slug });
    expect(reply.body.error?.code).toBe('FORBIDDEN');
    await expect(open({ cookie: other.cookie, org: fx.org.slug })).rejects.toThrow(/not a member/);
    expect(await auditSeq()).toBe(seq);
  });
});
