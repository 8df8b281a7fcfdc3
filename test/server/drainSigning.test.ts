// SIGTERM and a signing job in the middle of its work (issue 13): the drain lets it finish; past
// the drain's bound it is handed back — left to its lock, which lapses, and another node signs it.
// The job is caught mid-way by a time-stamping authority that holds its answer until the test lets
// it go (in front of a real one, made with openssl).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../server/config.js';
import type { SignetNode } from '../../server/index.js';
import { auditLog, connect, redisUrl, seedOrg, signIn, startNode, testConfig, type TestOrg } from '../helpers/signet.js';
import { createApiKey, createPolicy, createSigningProject, randomArtifact, removeDir, submitOk, tempDir, waitForFinal } from '../helpers/signing.js';
import { startTestTsa, type TestTsa } from '../helpers/tsa.js';
import { spawnNodeProcess, type NodeProcess } from '../helpers/nodeProcess.js';

interface HeldTsa {
  url: string;
  /** Resolves when a signing job asks for its timestamp. */
  asked: Promise<void>;
  /** Lets the held answers go (from the real TSA). */
  release(): void;
  close(): Promise<void>;
}

/** A TSA that holds every query until released, then answers it through `tsa`. */
async function heldTsa(tsa: TestTsa): Promise<HeldTsa> {
  let asked!: () => void;
  let release!: () => void;
  const askedPromise = new Promise<void>((resolve) => (asked = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      asked();
      void released
        .then(() => fetch(tsa.url, { method: 'POST', headers: { 'content-type': 'application/timestamp-query' }, body: Buffer.concat(chunks) }))
        .then(async (answer) => res.writeHead(answer.status, { 'content-type': 'application/timestamp-reply' }).end(Buffer.from(await answer.arrayBuffer())))
        // The node that asked may be gone by then (the test that hands its job back).
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tsa`,
    asked: askedPromise,
    release,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let artifactDir: string;
let config: Config;
let org: TestOrg;
let tsa: TestTsa;
let token: string;
let projectSlug: string;
let policySlug: string;
const children: NodeProcess[] = [];
const held: HeldTsa[] = [];
const nodes: SignetNode[] = [];

beforeAll(async () => {
  artifactDir = tempDir('signet-drain-signing-');
  tsa = await startTestTsa();
  config = testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_JOB_LOCK_MS: '1000', SIGNET_TSA_URL: tsa.url });
  // The installation is set up by a node in this process, which then stops: only the child signs.
  const seeder = await startNode(config);
  org = await seedOrg(seeder);
  const owner = await connect(seeder, { cookie: await signIn(seeder, org.users.owner) });
  const { project, certificate } = await createSigningProject(owner, { slug: 'drained' });
  const policy = await createPolicy(owner, { projectId: project.id, slug: 'auto', certificateId: certificate.id, submitters: [org.users.owner.userId] });
  token = await createApiKey(owner);
  projectSlug = project.slug;
  policySlug = policy.slug;
  owner.close();
  await seeder.close();
});

// Nodes with workers of their own leave with their test: the next one's job must go to its child.
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.close();
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
  for (const gate of held.splice(0)) await gate.close();
});

afterAll(async () => {
  await tsa?.close();
  removeDir(artifactDir);
});

/** A child node whose signing waits at a held TSA; resolves once a job it runs is waiting there. */
async function childSigning(drainTimeoutMs: number) {
  const gate = await heldTsa(tsa);
  held.push(gate);
  const child = await spawnNodeProcess(config, { SIGNET_TSA_URL: gate.url, SIGNET_DRAIN_TIMEOUT_MS: String(drainTimeoutMs), SIGNET_JOB_LOCK_MS: '1000' });
  children.push(child);
  const request = await submitOk(child, org.slug, token, { projectSlug, signingPolicySlug: policySlug, artifact: randomArtifact(20_000) });
  await gate.asked;
  return { child, gate, request };
}

const requestActions = async (node: SignetNode, requestId: string) =>
  (await auditLog(node, org.orgId)).filter((entry) => entry.target.id === requestId).map((entry) => entry.action);

describe('SIGTERM while a signing job runs', () => {
  it('lets the job finish before the node exits', async () => {
    const { child, gate, request } = await childSigning(15_000);
    child.child.kill('SIGTERM');
    await child.logged((line) => line.drain === 'stop-accepting');
    gate.release();
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.logs.find((line) => line.drain === 'jobs')).toMatchObject({ finished: true });
    expect(child.logs.find((line) => line.drain === 'done')).toMatchObject({ drained: true });

    const reader = await startNode(config);
    nodes.push(reader);
    const final = await waitForFinal(reader, org.slug, request.id, token);
    expect(final).toMatchObject({ workflowStatus: 'Completed', signature: { timestamp: { tsaUrl: gate.url } } });
  }, 60_000);

  it('past the drain\'s bound, hands the job back: its lock lapses and another node signs it', async () => {
    const { child, request } = await childSigning(1000);
    child.child.kill('SIGTERM');
    // The TSA keeps holding the answer: the drain gives up on the job at its bound.
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.logs.find((line) => line.drain === 'jobs')).toMatchObject({ finished: false });
    expect(child.logs.find((line) => line.drain === 'done')).toMatchObject({ drained: false });

    const rescuer = await startNode(config);
    nodes.push(rescuer);
    const final = await waitForFinal(rescuer, org.slug, request.id, token, 30_000);
    expect(final).toMatchObject({ workflowStatus: 'Completed', signature: { timestamp: { tsaUrl: tsa.url } } });
    expect(await requestActions(rescuer, request.id)).toEqual(['request.submit', 'request.process', 'request.complete']);
  }, 60_000);
});
