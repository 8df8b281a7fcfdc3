// The catalog's store modules read scoped to an organization (issue 12): another organization's
// project, policy or certificate reads as absent, so a command naming its id answers NOT_FOUND
// without a check of its own. (test/server/commands/signingConfig.test.ts runs every catalog
// command over another organization's ids; this shows where the answer comes from.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { command, connect, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { must } from '../../helpers/signing.js';

let node: SignetNode;
let ours: TestOrg;
let theirs: TestOrg;
let owner: ClientSocket;
let theirOwner: ClientSocket;
const their = { projectId: '', policyId: '', certificateId: '' };

beforeAll(async () => {
  node = await startNode(testConfig());
  [ours, theirs] = await Promise.all([seedOrg(node), seedOrg(node)]);
  owner = await connect(node, { cookie: await signIn(node, ours.users.owner) });
  theirOwner = await connect(node, { cookie: await signIn(node, theirs.users.owner) });
  their.projectId = (await must<{ project: { id: string } }>(theirOwner, 'project.create', { slug: 'theirs', name: 'Their App' })).project.id;
  their.certificateId = (
    await must<{ id: string }>(theirOwner, 'certificate.generateCsr', { slug: 'their-cert', name: 'Their cert', type: 'test', custody: 'software', commonName: 'Their Test' })
  ).id;
  their.policyId = (await must<{ id: string }>(theirOwner, 'policy.create', { projectId: their.projectId, slug: 'their-policy', name: 'Their policy', certificateId: their.certificateId })).id;
});

afterAll(async () => {
  owner?.close();
  theirOwner?.close();
  await node?.close();
});

describe('reads scoped to an organization', () => {
  it('the store answers another organization’s project, policy and certificate as absent, and its own as stored', async () => {
    const { store } = node.signet;
    expect(await store.projects.get(ours.orgId, their.projectId)).toBeNull();
    expect(await store.policies.get(ours.orgId, their.policyId)).toBeNull();
    expect(await store.certificates.get(ours.orgId, their.certificateId)).toBeNull();
    expect((await store.projects.get(theirs.orgId, their.projectId))?.value.slug).toBe('theirs');
    expect((await store.policies.get(theirs.orgId, their.policyId))?.value.slug).toBe('their-policy');
    expect((await store.certificates.get(theirs.orgId, their.certificateId))?.value.slug).toBe('their-cert');
  });

  it('so an owner naming them in a command gets NOT_FOUND, however much they may do in their own organization', async () => {
    for (const [name, input] of [
      ['project.get', { projectId: their.projectId }],
      ['policy.list', { projectId: their.projectId }],
      ['grant.list', { policyId: their.policyId }],
      ['certificate.downloadCsr', { certificateId: their.certificateId }],
    ] as const) {
      const ack = await command(owner, name, input);
      expect(ack.ok, name).toBe(false);
      if (!ack.ok) expect(ack.error.code, `${name}: ${ack.error.message}`).toBe('NOT_FOUND');
    }
    // Their owner reaches the same ids.
    expect((await must<{ fileName: string }>(theirOwner, 'certificate.downloadCsr', { certificateId: their.certificateId })).fileName).toBe('their-cert.csr');
  });
});
