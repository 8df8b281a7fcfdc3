// The CSR path (issue 11), how a CA-issued certificate gets in: an admin generates a key (in either
// custody) with a PKCS#10 request for the subject they enter, downloads the request, and imports the
// certificate (and chain) a CA issued for it. The CA here is openssl (test/helpers/testCa.ts). A
// certificate for another key is refused; one without the code-signing EKU is accepted with a
// warning; until its certificate is in, a certificate cannot sign.
import { verify as verifySignature, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { setOpenSource } from '../../../server/cli/operator.js';
import { NO_CODE_SIGNING_EKU } from '../../../server/signing/certificates.js';
import { openSigner } from '../../../server/signing/custody/signer.js';
import type { Certificate } from '../../../src/lib/shared/entities.js';
import { auditLog, command, nextEvent, OPERATOR, snapshot, testConfig, type ClientSocket } from '../../helpers/signet.js';
import { createApiKey, createPolicy, createProject, must, randomArtifact, submitOk, waitForFinal } from '../../helpers/signing.js';
import { startTestCa, type TestCa } from '../../helpers/testCa.js';
import { useSignet } from '../../helpers/signetFixture.js';

let ca: TestCa;
let artifactDir = '';
const fx = useSignet({
  config: async () => {
    ca = await startTestCa();
    fx.onClose(() => ca.close());
    artifactDir = fx.tempDir('signet-csr-artifacts-');
    return testConfig({ SIGNET_ARTIFACT_DIR: artifactDir });
  },
});
const { as } = fx;

const SUBJECT = {
  commonName: 'Example Corp',
  organization: 'Example Corp',
  organizationalUnit: 'Release Engineering',
  locality: 'Berlin',
  state: 'Berlin',
  country: 'de',
  email: 'codesigning@example.com',
};

/** Every key and value but what moves with any command (audit chain, event stream, job queues). */
async function state(): Promise<Record<string, string>> {
  return Object.fromEntries(Object.entries(await snapshot(fx.node)).filter(([key]) => !/:audit|:seq$|:events$|bull/.test(key)));
}

async function refused(socket: ClientSocket, name: string, input: unknown) {
  const ack = await command(socket, name, input);
  expect(ack.ok, JSON.stringify(ack.result)?.slice(0, 200)).toBe(false);
  return ack.error!;
}

for (const custody of ['pkcs11', 'software'] as const) {
  describe(`a ${custody === 'pkcs11' ? 'token-held' : 'software'} key with a CSR, issued by a CA`, () => {
    let awaiting: Certificate;
    let csrPem = '';

    it('certificate.generateCsr makes the key and a request; the certificate is visible as awaiting its certificate', async () => {
      const seen = nextEvent(as.viewer, 'change', (event) => event.entity === 'certificate' && event.op === 'created');
      awaiting = await must<Certificate>(as.admin, 'certificate.generateCsr', { slug: `ca-${custody}`, name: `CA-issued ${custody}`, type: 'release', custody, ...SUBJECT });
      expect(awaiting).toMatchObject({
        custody,
        source: 'requested',
        awaitingCertificate: true,
        algorithm: 'ECDSA-P256',
        certificatePem: null,
        issuer: null,
        notBefore: null,
        notAfter: null,
        fingerprintSha256: null,
        warnings: [],
      });
      expect(awaiting.subject).toBe('C=DE, ST=Berlin, L=Berlin, O=Example Corp, OU=Release Engineering, CN=Example Corp, E=codesigning@example.com');
      expect((await seen).data).toEqual(awaiting);
      expect(JSON.stringify(awaiting)).not.toContain('CERTIFICATE REQUEST');
    });

    it('certificate.downloadCsr hands the PKCS#10 request to an admin, audited; openssl reads it and its signature verifies', async () => {
      const download = await must<{ fileName: string; csrPem: string }>(as.admin, 'certificate.downloadCsr', { certificateId: awaiting.id });
      expect(download.fileName).toBe(`ca-${custody}.csr`);
      csrPem = download.csrPem;
      expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+-----END CERTIFICATE REQUEST-----\n$/);
      expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({
        action: 'certificate.downloadCsr',
        outcome: 'ok',
        actor: { id: fx.org.users.admin.userId },
        target: { type: 'certificate', id: awaiting.id },
      });
      const inspected = await ca.inspectRequest(csrPem);
      expect(inspected.status, inspected.output).toBe(0);
      expect(inspected.output).toMatch(/verify OK/i);
      expect(inspected.output).toContain('Subject: emailAddress=codesigning@example.com,CN=Example Corp,OU=Release Engineering,O=Example Corp,L=Berlin,ST=Berlin,C=DE');
      expect(inspected.output).toMatch(/Extended Key Usage:\s*\n\s*Code Signing/);

      const error = await refused(as.member, 'certificate.downloadCsr', { certificateId: awaiting.id });
      expect(error.code).toBe('FORBIDDEN');
    });

    it('cannot sign while awaiting its certificate: a request under a policy that names it fails with that reason', async () => {
      const project = await createProject(as.owner, `awaiting-${custody}`);
      await createPolicy(as.owner, { projectId: project.id, slug: 'awaits', certificateId: awaiting.id, submitters: [fx.org.users.admin.userId] });
      const token = await createApiKey(as.admin);
      const submitted = await submitOk(fx.node, fx.org.slug, token, { projectSlug: project.slug, signingPolicySlug: 'awaits', artifact: randomArtifact(), fileName: 'app.bin' });
      const final = await waitForFinal(fx.node, fx.org.slug, submitted.id, token);
      expect(final.workflowStatus).toBe('ProcessingFailed');
      expect(final.failureReason).toMatch(/awaiting its certificate from the CA/);
    });

    it('a certificate issued for another key is INVALID_INPUT naming certificatePem, and nothing changes', async () => {
      const other = await must<Certificate>(as.admin, 'certificate.generateCsr', { slug: `other-${custody}`, name: 'Other', type: 'test', custody, commonName: 'Other Test' });
      const otherCsr = (await must(as.admin, 'certificate.downloadCsr', { certificateId: other.id })).csrPem;
      const wrong = await ca.issue(otherCsr);
      const before = await state();
      const error = await refused(as.admin, 'certificate.importIssued', { certificateId: awaiting.id, version: awaiting.version, certificatePem: wrong + ca.intermediatePem });
      expect(error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'certificatePem' }] });
      expect(error.message).toMatch(/certificatePem: none of the certificates has this certificate's key/);
      expect(await state()).toEqual(before);
    });

    it('certificate.importIssued takes the certificate the CA issued, with its chain: the certificate can sign', async () => {
      const leaf = await ca.issue(csrPem);
      const seen = nextEvent(as.viewer, 'change', (event) => event.entity === 'certificate' && event.op === 'updated' && event.id === awaiting.id);
      // As CAs deliver it: the chain first, the leaf somewhere in the bundle.
      const issued = await must<Certificate>(as.admin, 'certificate.importIssued', {
        certificateId: awaiting.id,
        version: awaiting.version,
        certificatePem: ca.rootPem + ca.intermediatePem + leaf,
      });
      const x509 = new X509Certificate(leaf);
      expect(issued).toMatchObject({
        id: awaiting.id,
        custody,
        source: 'requested',
        awaitingCertificate: false,
        warnings: [],
        fingerprintSha256: x509.fingerprint256,
        serialNumber: x509.serialNumber,
        notAfter: new Date(x509.validTo).toISOString(),
        version: awaiting.version + 1,
      });
      expect(issued.certificatePem).toBe(leaf);
      expect(issued.chainPem).toBe(ca.rootPem + ca.intermediatePem);
      expect(issued.issuer).toContain('CN=Signet Test Code Signing CA');
      expect(issued.subject).toBe(awaiting.subject);
      expect((await seen).data).toEqual(issued);
      const verified = await ca.verify(issued.certificatePem!);
      expect(verified.status, verified.output).toBe(0);
      expect((await auditLog(fx.node, fx.org.orgId)).at(-1)).toMatchObject({
        action: 'certificate.importIssued',
        target: { id: awaiting.id },
        changes: { awaitingCertificate: { before: true, after: false } },
      });

      // The key behind the issued certificate signs (in the token, for a token-held key).
      const signer = await openSigner(fx.node.signet.config, (await fx.node.signet.store.certificates.get(fx.org.orgId, awaiting.id))!.value);
      const data = Buffer.from('shipped');
      expect(verifySignature('sha256', data, x509.publicKey, await signer.sign(data))).toBe(true);
      signer.close();

      const again = await refused(as.admin, 'certificate.importIssued', { certificateId: awaiting.id, version: issued.version, certificatePem: leaf });
      expect(again).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'certificateId' }] });
      expect(again.message).toMatch(/not awaiting a certificate/);
    });
  });
}

describe('an issued certificate without the code-signing extended key usage', () => {
  it('is accepted with a warning that shows in the result, the record and the audit entry', async () => {
    const awaiting = await must<Certificate>(as.owner, 'certificate.generateCsr', { slug: 'tls-only', name: 'TLS only', type: 'test', custody: 'software', commonName: 'Tls Test' });
    const csr = (await must(as.owner, 'certificate.downloadCsr', { certificateId: awaiting.id })).csrPem;
    const leaf = await ca.issue(csr, { extendedKeyUsage: 'serverAuth' });
    const issued = await must<Certificate>(as.owner, 'certificate.importIssued', { certificateId: awaiting.id, version: 1, certificatePem: leaf });
    expect(issued.warnings).toEqual([NO_CODE_SIGNING_EKU]);
    expect(issued.chainPem).toBeNull();
    expect((await must<Certificate[]>(as.viewer, 'certificate.list')).find((c) => c.id === awaiting.id)!.warnings).toEqual([NO_CODE_SIGNING_EKU]);
    expect((await auditLog(fx.node, fx.org.orgId)).at(-1)!.changes).toMatchObject({ warnings: { before: [], after: [NO_CODE_SIGNING_EKU] } });
  });
});

describe('bad input and who may do it', () => {
  it('a subject field that is not valid is INVALID_INPUT naming it, and nothing changes', async () => {
    const before = await state();
    for (const [field, value] of [['country', 'Germany'], ['email', 'not-an-address'], ['commonName', 'x'.repeat(65)], ['organization', 'tab\there'], ['commonName', '  ']] as const) {
      const error = await refused(as.admin, 'certificate.generateCsr', { slug: 'bad-subject', name: 'Bad', type: 'test', custody: 'software', ...SUBJECT, [field]: value });
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.issues?.map((issue) => issue.path)).toContain(field);
    }
    expect(await state()).toEqual(before);
  });

  it('a self-signed certificate’s common name or organization beyond 64 characters (X.520) is INVALID_INPUT naming it, before any key is made', async () => {
    const before = await state();
    for (const field of ['commonName', 'organization']) {
      const error = await refused(as.admin, 'certificate.generate', { slug: 'too-long', name: 'Too long', type: 'test', custody: 'pkcs11', commonName: 'Test', [field]: 'x'.repeat(65) });
      expect(error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: field }] });
    }
    expect(await state()).toEqual(before);
  });

  it('certificate.downloadCsr of a certificate made without a request is INVALID_INPUT naming certificateId', async () => {
    const plain = await must<Certificate>(as.admin, 'certificate.generate', { slug: 'plain', name: 'Plain', type: 'test', commonName: 'Plain Test' });
    const error = await refused(as.admin, 'certificate.downloadCsr', { certificateId: plain.id });
    expect(error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'certificateId' }] });
  });

  it('in an Open Source organization nobody but the operators requests or imports certificates', async () => {
    const awaiting = await must<Certificate>(as.admin, 'certificate.generateCsr', { slug: 'before-oss', name: 'Before', type: 'test', custody: 'software', commonName: 'Before Test' });
    await setOpenSource(fx.node.signet, fx.org.orgId, true, OPERATOR);
    try {
      const before = await state();
      const generate = await refused(as.owner, 'certificate.generateCsr', { slug: 'oss', name: 'OSS', type: 'test', custody: 'software', commonName: 'Oss Test' });
      expect(generate.code).toBe('FORBIDDEN');
      const leaf = await ca.issue((await must(as.admin, 'certificate.downloadCsr', { certificateId: awaiting.id })).csrPem);
      const imported = await refused(as.owner, 'certificate.importIssued', { certificateId: awaiting.id, version: 1, certificatePem: leaf });
      expect(imported.code).toBe('FORBIDDEN');
      expect(await state()).toEqual(before);
    } finally {
      await setOpenSource(fx.node.signet, fx.org.orgId, false, OPERATOR);
    }
  });
});
