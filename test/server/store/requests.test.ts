// The signing requests' store module: its reads are scoped to an organization (another
// organization's request id is not found, whichever way it is asked for) and its plans keep the
// request's indexes in step with the record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { command, seedOrg, startNode, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import {
  createApiKey,
  createPolicy,
  createSigningProject,
  getWithToken,
  must,
  people,
  randomArtifact,
  removeDir,
  submitOk,
  tempDir,
  type Person,
} from '../../helpers/signing.js';

let node: SignetNode;
let artifactDir: string;
const sockets: ClientSocket[] = [];
let home: TestOrg;
let other: TestOrg;
let here: Record<'owner' | 'admin' | 'member' | 'viewer', Person>;
let there: Record<'owner' | 'admin' | 'member' | 'viewer', Person>;
let memberToken: string;
let otherToken: string;

beforeAll(async () => {
  artifactDir = tempDir('signet-request-store-');
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_RATE_LIMIT_PER_MINUTE: '100000' }));
  home = await seedOrg(node);
  other = await seedOrg(node);
  here = await people(node, home, {}, sockets);
  there = await people(node, other, {}, sockets);
  const { project, certificate } = await createSigningProject(here.owner.socket, { slug: 'scoped' });
  await createPolicy(here.owner.socket, {
    projectId: project.id,
    slug: 'held',
    certificateId: certificate.id,
    submitters: [here.member.userId],
    approvers: [here.admin.userId],
    requiredApprovals: 1,
  });
  memberToken = await createApiKey(here.member.socket);
  otherToken = await createApiKey(there.owner.socket);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  removeDir(artifactDir);
});

const submitWaiting = () =>
  submitOk(node, home.slug, memberToken, { projectSlug: 'scoped', signingPolicySlug: 'held', artifact: randomArtifact(256) }) as Promise<{ id: string; workflowStatus: string }>;

describe('signing requests in the store', () => {
  it("another organization's request id is not found: read, decided, canceled or re-submitted, and nothing changes", async () => {
    const submitted = await submitWaiting();
    const { requests } = node.signet.store;
    const stored = await requests.get(home.orgId, submitted.id);
    expect(stored?.value.workflowStatus).toBe('WaitingForApproval');
    expect(await requests.get(other.orgId, submitted.id)).toBeNull();

    const asked = [
      command(there.owner.socket, 'request.get', { requestId: submitted.id }),
      command(there.owner.socket, 'request.approve', { requestId: submitted.id, comment: 'not mine to approve' }),
      command(there.owner.socket, 'request.deny', { requestId: submitted.id, comment: 'not mine to deny' }),
      command(there.owner.socket, 'request.cancel', { requestId: submitted.id }),
      command(there.owner.socket, 'request.resubmit', { requestId: submitted.id }),
    ];
    for (const answer of await Promise.all(asked)) {
      expect(answer.error).toMatchObject({ code: 'NOT_FOUND', message: `Signing request ${submitted.id} was not found` });
    }
    const listed = await must<{ requests: Array<{ id: string }> }>(there.owner.socket, 'request.list', {});
    expect(listed.requests.map((request) => request.id)).not.toContain(submitted.id);
    const read = await getWithToken(node, `/api/v1/orgs/${other.slug}/signing-requests/${submitted.id}`, otherToken);
    expect(read.status).toBe(404);
    expect((await read.json()).error).toMatchObject({ code: 'NOT_FOUND', message: `Signing request ${submitted.id} was not found` });

    expect((await requests.get(home.orgId, submitted.id))?.raw).toBe(stored!.raw);
  });

  it('a waiting request is in the waiting set and the expiry schedule until a decision takes it out of both', async () => {
    const submitted = await submitWaiting();
    const { requests } = node.signet.store;
    const scheduled = async () => (await requests.due('expiring', Number.MAX_SAFE_INTEGER, 10_000)).map((entry) => entry.requestId);
    expect((await requests.waiting(home.orgId)).map((request) => request.id)).toContain(submitted.id);
    expect(await scheduled()).toContain(submitted.id);
    expect((await requests.waiting(other.orgId)).map((request) => request.id)).not.toContain(submitted.id);

    const denied = await must<{ workflowStatus: string }>(here.admin.socket, 'request.deny', { requestId: submitted.id, comment: 'not this build' });
    expect(denied.workflowStatus).toBe('Denied');
    expect((await requests.waiting(home.orgId)).map((request) => request.id)).not.toContain(submitted.id);
    expect(await scheduled()).not.toContain(submitted.id);
    // Its trail is the organization's audit log, and only that organization's.
    expect((await requests.activity(home.orgId, submitted.id)).map((entry) => entry.action)).toEqual(['request.submit', 'request.deny']);
    expect(await requests.activity(other.orgId, submitted.id)).toEqual([]);
  });
});
