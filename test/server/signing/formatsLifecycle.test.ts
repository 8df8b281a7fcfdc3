// Every signature format through the whole lifecycle (SPEC §4): a CI upload over REST to a policy
// that needs an approval, the approval, the worker's signature checked by the format's own
// verifier, the signed-artifact download under its right name, the timestamp from a loopback TSA,
// and the audit entries, live events and notifications on the way. Also: files that do not fit
// their format are refused at submission and re-submission, and a TSA that does not answer.
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import type { ArtifactConfiguration, Certificate, SigningPolicy, SigningRequest } from '../../../src/lib/shared/entities.js';
import { auditLog, command, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import {
  createApiKey,
  createPolicy,
  createProject,
  generateCertificate,
  getWithToken,
  must,
  randomArtifact,
  requestDirs,
  submitOk,
  submitRequest,
  verifyWithOpenssl,
  waitForNotifications,
  waitForStatus,
} from '../../helpers/signing.js';
import { gpgVerify, minimalPe, osslsigncodeVerify, powershellScript, tampered } from '../../helpers/fixtures.js';
import { silentTsaUrl, startTestTsa, type TestTsa } from '../../helpers/tsa.js';
import { useSignet, type SignetFixture } from '../../helpers/signetFixture.js';

let tsa: TestTsa;
let artifactDir: string;
const fx: SignetFixture<'alice'> = useSignet({
  config: async () => {
    tsa = await startTestTsa();
    fx.onClose(() => tsa.close());
    artifactDir = fx.tempDir('signet-formats-lifecycle-');
    return testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_TSA_URL: tsa.url, SIGNET_RATE_LIMIT_PER_MINUTE: '100000' });
  },
  people: { alice: 'Alice Approver' },
});
const { who } = fx;
let node: SignetNode;
let org: TestOrg;
let owner: ClientSocket;
let project: { id: string; slug: string };
let certificate: Certificate;
let policy: SigningPolicy;
let token: string;
const configs: Record<string, ArtifactConfiguration> = {};

beforeAll(async () => {
  ({ node, org } = fx);
  owner = who.owner.socket;
  project = await createProject(owner, 'desktop');
  certificate = await generateCertificate(owner, 'desktop-release', { algorithm: 'RSA-2048' });
  for (const [slug, signatureFormat] of [['windows', 'authenticode'], ['linux', 'openpgp-detached'], ['detached', 'cms-detached']] as const) {
    configs[signatureFormat] = await must(owner, 'artifactConfig.create', { projectId: project.id, slug, name: slug, signatureFormat });
  }
  policy = await createPolicy(owner, {
    projectId: project.id,
    slug: 'release',
    certificateId: certificate.id,
    submitters: [who.member.userId],
    approvers: [who.alice.userId],
    requiredApprovals: 1,
  });
  token = await createApiKey(who.member.socket);
});

async function signedDownload(requestId: string): Promise<{ data: Buffer; fileName: string | undefined; type: string | null }> {
  const response = await getWithToken(node, `/api/v1/orgs/${org.slug}/signing-requests/${requestId}/signed-artifact`, token);
  expect(response.status).toBe(200);
  return {
    data: Buffer.from(await response.arrayBuffer()),
    fileName: /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1],
    type: response.headers.get('content-type'),
  };
}

/** Upload as CI, approve as Alice, and wait until the worker is done. */
async function submitAndApprove(format: keyof typeof configs | string, fileName: string, artifact: Buffer, policySlug = policy.slug): Promise<SigningRequest> {
  const submitted = await submitOk(node, org.slug, token, {
    projectSlug: project.slug,
    signingPolicySlug: policySlug,
    fields: { artifactConfigurationSlug: configs[format]!.slug },
    artifact,
    fileName,
  });
  expect(submitted).toMatchObject({ workflowStatus: 'WaitingForApproval', signatureFormat: format });
  await must(who.alice.socket, 'request.approve', { requestId: submitted.id, comment: 'looks right' });
  const final = await Promise.race([
    waitForStatus(owner, submitted.id, 'Completed', { ask: true }),
    waitForStatus(owner, submitted.id, 'ProcessingFailed', { ask: true }),
  ]);
  return final;
}

async function auditOf(requestId: string) {
  return (await auditLog(node, org.orgId)).filter((entry) => entry.target.id === requestId);
}

describe('each format, from a CI upload through approval to a verified signature', () => {
  it('authenticode: the signed .exe itself downloads under its own name, timestamped, and osslsigncode verifies it', async () => {
    const exe = minimalPe(2048);
    const done = await submitAndApprove('authenticode', 'desktop.exe', exe);
    expect(done.workflowStatus).toBe('Completed');
    expect(done.signatureFormat).toBe('authenticode');
    expect(done.signature).toMatchObject({ format: 'authenticode', fileName: 'desktop.exe', timestamp: { tsaUrl: tsa.url, time: expect.any(String) }, noTimestampReason: null });
    const download = await signedDownload(done.id);
    expect(download.fileName).toBe('desktop.exe');
    expect(download.type).toBe('application/octet-stream');
    expect(download.data.subarray(0, 2).toString('latin1')).toBe('MZ');
    expect(download.data.length).toBe(done.signature!.size);
    const verified = await osslsigncodeVerify(download.data, 'desktop.exe', certificate.certificatePem!, tsa.rootPem);
    expect(verified.output).toContain('Timestamp Server Signature verification: ok');
    expect(verified.status).toBe(0);
    expect((await osslsigncodeVerify(tampered(download.data, exe.subarray(0x300, 0x310)), 'desktop.exe', certificate.certificatePem!)).status).not.toBe(0);

    // The audit log says how it was signed, and the people involved heard of it.
    const entries = await auditOf(done.id);
    expect(entries.find((e) => e.action === 'request.submit')?.changes.signatureFormat).toEqual({ before: null, after: 'authenticode' });
    expect(entries.find((e) => e.action === 'request.complete')?.changes.signature?.after).toMatchObject({ format: 'authenticode', timestamp: { tsaUrl: tsa.url } });
    await waitForNotifications(who.member.socket, (n) => n.link === `/requests/${done.id}` && /Completed/.test(n.title + n.body), 1);
    await waitForNotifications(owner, (n) => n.kind === 'request.completed' && n.link === `/requests/${done.id}`, 1);
  });

  it('openpgp-detached: an armored .asc that gpg verifies with the certificate\'s published OpenPGP key', async () => {
    const tarball = randomArtifact(50_000);
    const done = await submitAndApprove('openpgp-detached', 'desktop-1.0.tar.gz', tarball);
    expect(done.workflowStatus).toBe('Completed');
    expect(done.signature).toMatchObject({ format: 'openpgp-detached', fileName: 'desktop-1.0.tar.gz.asc', timestamp: null, noTimestampReason: expect.stringMatching(/OpenPGP/) });
    const download = await signedDownload(done.id);
    expect(download.fileName).toBe('desktop-1.0.tar.gz.asc');
    expect(download.type).toMatch(/^application\/pgp-signature/);
    const published = (await must<Certificate[]>(who.viewer.socket, 'certificate.list')).find((c) => c.id === certificate.id)!;
    expect(published.openpgpPublicKey).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    const verified = await gpgVerify(download.data, tarball, published.openpgpPublicKey!);
    expect(verified.output).toContain(`VALIDSIG ${published.openpgpFingerprint}`);
    expect(verified.status).toBe(0);
  });

  it('cms-detached: a timestamped .p7s that openssl verifies', async () => {
    const artifact = randomArtifact(20_000);
    const done = await submitAndApprove('cms-detached', 'desktop.bin', artifact);
    expect(done.signature).toMatchObject({ format: 'cms-detached', fileName: 'desktop.bin.p7s', timestamp: { tsaUrl: tsa.url } });
    const download = await signedDownload(done.id);
    expect(download.fileName).toBe('desktop.bin.p7s');
    expect(verifyWithOpenssl(download.data, artifact, certificate.certificatePem!).status).toBe(0);
  });
});

describe('files that do not fit their format', () => {
  it('a text file named .exe is refused at submission with the reason, and nothing is kept', async () => {
    const before = requestDirs(artifactDir, org.orgId);
    const auditBefore = (await auditLog(node, org.orgId)).length;
    const response = await submitRequest(node, org.slug, token, {
      projectSlug: project.slug,
      signingPolicySlug: policy.slug,
      fields: { artifactConfigurationSlug: 'windows' },
      artifact: Buffer.from('echo this is not a program'),
      fileName: 'tool.exe',
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('INVALID_INPUT');
    expect(response.body.error.message).toMatch(/cannot be signed as authenticode \(artifact configuration windows\): tool\.exe is named like a PE file .* but its content is not/);
    expect(requestDirs(artifactDir, org.orgId)).toEqual(before);
    expect((await auditLog(node, org.orgId)).length).toBe(auditBefore);
  });

  it('re-submission checks the format again: a request whose configuration became Authenticode is refused for a file that is not a PE', async () => {
    const lax = await must<ArtifactConfiguration>(owner, 'artifactConfig.create', { projectId: project.id, slug: 'lax', name: 'lax' });
    const autoPolicy = await createPolicy(owner, { projectId: project.id, slug: 'auto', certificateId: certificate.id, submitters: [who.member.userId] });
    const submitted = await submitOk(node, org.slug, token, { projectSlug: project.slug, signingPolicySlug: autoPolicy.slug, fields: { artifactConfigurationSlug: 'lax' }, artifact: randomArtifact(), fileName: 'blob.exe' });
    await waitForStatus(owner, submitted.id, 'Completed', { ask: true });
    await must(owner, 'artifactConfig.update', { artifactConfigId: lax.id, version: lax.version, signatureFormat: 'authenticode' });
    const ack = await command(who.member.socket, 'request.resubmit', { requestId: submitted.id });
    expect(ack.ok).toBe(false);
    expect(ack.error).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/blob\.exe is named like a PE file/) });
  });

  it('a PowerShell script re-submitted to the same Authenticode configuration is signed again', async () => {
    const script = powershellScript();
    const autoPolicy = (await must<SigningPolicy[]>(owner, 'policy.list', { projectId: project.id })).find((p) => p.slug === 'auto')!;
    const first = await submitOk(node, org.slug, token, { projectSlug: project.slug, signingPolicySlug: autoPolicy.slug, fields: { artifactConfigurationSlug: 'windows' }, artifact: script, fileName: 'setup.ps1' });
    await waitForStatus(owner, first.id, 'Completed', { ask: true });
    const again = await must<SigningRequest>(who.member.socket, 'request.resubmit', { requestId: first.id });
    const done = await waitForStatus(owner, again.id, 'Completed', { ask: true });
    expect(done).toMatchObject({ resubmittedFromId: first.id, signatureFormat: 'authenticode' });
    const download = await signedDownload(done.id);
    expect(download.fileName).toBe('setup.ps1');
    expect(download.data.toString('utf8')).toContain('# SIG # Begin signature block');
    expect((await osslsigncodeVerify(download.data, 'setup.ps1', certificate.certificatePem!, tsa.rootPem)).status).toBe(0);
  });
});

describe('a TSA that does not answer', () => {
  it('fails the request with that reason; a policy that allows it signs without a timestamp, marked on the request and in the audit log', async () => {
    const silent = await silentTsaUrl();
    const strict = await createPolicy(owner, { projectId: project.id, slug: 'strict-tsa', certificateId: certificate.id, submitters: [who.member.userId] });
    await must(owner, 'policy.update', { policyId: strict.id, version: strict.version, tsaUrl: silent });
    const lenient = await must<SigningPolicy>(owner, 'policy.create', {
      projectId: project.id, slug: 'lenient-tsa', name: 'Lenient', certificateId: certificate.id, submitters: [who.member.userId], tsaUrl: silent, allowWithoutTimestamp: true,
    });
    const upload = (slug: string) => submitOk(node, org.slug, token, { projectSlug: project.slug, signingPolicySlug: slug, fields: { artifactConfigurationSlug: 'windows' }, artifact: minimalPe(), fileName: 'late.exe' });

    const failed = await waitForStatus(owner, (await upload(strict.slug)).id, 'ProcessingFailed', { ask: true });
    expect(failed.failureReason).toMatch(new RegExp(`^the time-stamping authority 127\\.0\\.0\\.1:${new URL(silent).port} did not answer: `));
    expect(failed.signature).toBeNull();

    const signed = await waitForStatus(owner, (await upload(lenient.slug)).id, 'Completed', { ask: true });
    expect(signed.signature).toMatchObject({ timestamp: null, noTimestampReason: expect.stringMatching(/did not answer.*signed without a timestamp, as signing policy lenient-tsa allows$/) });
    const completion = (await auditOf(signed.id)).find((e) => e.action === 'request.complete');
    expect(completion?.changes.signature?.after).toMatchObject({ timestamp: null, noTimestampReason: expect.stringMatching(/signed without a timestamp/) });
    expect((await osslsigncodeVerify((await signedDownload(signed.id)).data, 'late.exe', certificate.certificatePem!)).output).toContain('Timestamp is not available');
  });
});

describe('certificates made before OpenPGP keys', () => {
  it('get an OpenPGP key on their first OpenPGP signature, in one audited commit that the console hears', async () => {
    const older = await generateCertificate(owner, 'older');
    // As stored before this feature: no OpenPGP fields.
    const key = node.signet.keys.certificate(older.id);
    const { sealedOpenpgpKey: _s, openpgpPublicKey: _p, openpgpFingerprint: _f, ...legacy } = JSON.parse((await node.signet.redis.get(key))!);
    await node.signet.redis.set(key, JSON.stringify(legacy));
    const olderPolicy = await createPolicy(owner, { projectId: project.id, slug: 'older', certificateId: older.id, submitters: [who.member.userId] });
    const artifact = randomArtifact();
    const submitted = await submitOk(node, org.slug, token, { projectSlug: project.slug, signingPolicySlug: olderPolicy.slug, fields: { artifactConfigurationSlug: 'linux' }, artifact, fileName: 'pkg.deb' });
    await waitForStatus(owner, submitted.id, 'Completed', { ask: true });
    const heard = owner.received.filter((r) => r.event === 'change' && r.data.entity === 'certificate' && r.data.id === older.id && r.data.data?.openpgpPublicKey);
    expect(heard.length).toBeGreaterThanOrEqual(1);
    const published = heard.at(-1)!.data.data as Certificate;
    expect((await gpgVerify((await signedDownload(submitted.id)).data, artifact, published.openpgpPublicKey!)).status).toBe(0);
    const added = (await auditLog(node, org.orgId)).filter((e) => e.action === 'certificate.openpgpKey' && e.target.id === older.id);
    expect(added).toHaveLength(1);
    expect(JSON.stringify(added[0])).not.toMatch(/sealed|PRIVATE/);
  });
});
