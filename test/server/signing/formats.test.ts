// Signature formats (SPEC §4) checked by the real verifiers: Authenticode files that
// `osslsigncode verify` accepts (and rejects once a signed byte changes), detached OpenPGP
// signatures that `gpg --verify` accepts, RFC 3161 timestamps that `openssl ts -verify` and
// osslsigncode accept, and files refused because they do not fit their format.
import { createHash } from 'node:crypto';
import { createOutboundClient } from '../../../server/net/outbound.js';
import { parseAllowedCidrs } from '../../../server/net/addresses.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSelfSigned, type CertificateMaterial } from '../../../server/signing/certificates.js';
import { softwareSigner } from '../../../server/signing/custody/signer.js';
import { signDetached } from '../../../server/signing/cms.js';
import { signAuthenticode } from '../../../server/signing/formats/authenticode.js';
import { authenticodeKind } from '../../../server/signing/formats/fit.js';
import { newOpenpgpKey, signOpenpgpDetached } from '../../../server/signing/formats/openpgp.js';
import { OID, readSignerInfo } from '../../../server/signing/formats/signedData.js';
import { TimestampUnavailable } from '../../../server/signing/formats/timestamp.js';
import { timestampPlan, type TimestampResult } from '../../../server/signing/formats/timestamping.js';
import type { CertificateRecord } from '../../../server/store/records.js';
import { authenticodeFixtures, gpgVerify, minimalPe, osslsigncodeVerify, tampered, type Fixture } from '../../helpers/fixtures.js';
import { opensslTsVerify, silentTsaUrl, startTestTsa, type TestTsa } from '../../helpers/tsa.js';
import { SOFTHSM_MODULE, softhsmToken } from '../../helpers/softhsm.js';
import { removeDir, tempDir, verifyWithOpenssl } from '../../helpers/signing.js';

const masterKey = Buffer.alloc(32, 7);
const config = { SIGNET_TSA_URL: undefined as string | undefined, SIGNET_TSA_TIMEOUT_MS: 10_000, masterKey };
/** What timestampPlan needs of a node: its TSA settings, and the outbound client a policy's TSA is reached through. */
const tsaSettings = (overrides: Partial<typeof config> = {}) => ({
  config: { ...config, ...overrides },
  outbound: createOutboundClient({ allowedCidrs: parseAllowedCidrs('127.0.0.1/32') }),
});
const noTsaPolicy: { slug: string; tsaUrl: string | null; allowWithoutTimestamp: boolean } = { slug: 'plain', tsaUrl: null, allowWithoutTimestamp: false };

let dir: string;
let ec: CertificateMaterial;
let rsa: CertificateMaterial;
let fixtures: Awaited<ReturnType<typeof authenticodeFixtures>>;
let tsa: TestTsa;
let seq = 0;

beforeAll(async () => {
  dir = tempDir('signet-formats-');
  [ec, rsa, fixtures, tsa] = await Promise.all([
    generateSelfSigned({ commonName: 'Formats EC', algorithm: 'ECDSA-P256', validDays: 30, type: 'test' }),
    generateSelfSigned({ commonName: 'Formats RSA', algorithm: 'RSA-2048', validDays: 30, type: 'test' }),
    authenticodeFixtures(),
    startTestTsa(),
  ]);
});

afterAll(async () => {
  await tsa?.close();
  removeDir(dir);
});

async function authenticode(material: CertificateMaterial, fixture: Fixture, policy = noTsaPolicy): Promise<{ signed: Buffer; result: TimestampResult }> {
  const work = path.join(dir, `job-${++seq}`);
  mkdirSync(work);
  const input = path.join(work, 'artifact');
  writeFileSync(input, fixture.data);
  const output = path.join(work, 'signed-artifact');
  const result = await signAuthenticode({
    certificatePem: material.certificatePem,
    signer: softwareSigner(Buffer.from(material.privateKeyPkcs8)),
    fileName: fixture.fileName,
    input,
    output,
    workDir: work,
    timestamp: timestampPlan(tsaSettings(), policy),
  });
  expect(readFileSync(input).equals(fixture.data)).toBe(true); // the upload stays as it was
  return { signed: readFileSync(output), result };
}

describe('Authenticode', () => {
  for (const kind of ['pe', 'msi', 'cab', 'powershell', 'cat'] as const) {
    it(`signs ${kind === 'powershell' ? 'a PowerShell script' : `a ${kind.toUpperCase()} file`} in place: osslsigncode verify accepts it, and rejects a changed byte`, async () => {
      const fixture = fixtures[kind];
      const { signed, result } = await authenticode(ec, fixture);
      expect(result).toEqual({ timestamp: null, noTimestampReason: 'no time-stamping authority is configured' });
      const verified = await osslsigncodeVerify(signed, fixture.fileName, ec.certificatePem);
      expect(verified.output).toContain('Signature verification: ok');
      expect(verified.status).toBe(0);
      const broken = await osslsigncodeVerify(tampered(signed, fixture.marker), fixture.fileName, ec.certificatePem);
      expect(broken.status).not.toBe(0);
    });
  }

  it('signs with an RSA key too, and is refused by a verifier that trusts another certificate', async () => {
    const { signed } = await authenticode(rsa, fixtures.pe);
    expect((await osslsigncodeVerify(signed, 'app.exe', rsa.certificatePem)).status).toBe(0);
    expect((await osslsigncodeVerify(signed, 'app.exe', ec.certificatePem)).status).not.toBe(0);
  });

  it('carries an RFC 3161 timestamp from the policy\'s TSA that osslsigncode verifies', async () => {
    const before = tsa.answered;
    const { signed, result } = await authenticode(ec, fixtures.pe, { slug: 'stamped', tsaUrl: tsa.url, allowWithoutTimestamp: false });
    expect(tsa.answered).toBe(before + 1);
    expect(result.timestamp?.tsaUrl).toBe(tsa.url);
    expect(Math.abs(Date.parse(result.timestamp!.time) - Date.now())).toBeLessThan(10 * 60_000);
    const verified = await osslsigncodeVerify(signed, 'app.exe', ec.certificatePem, tsa.rootPem);
    expect(verified.output).toContain('Timestamp Server Signature verification: ok');
    expect(verified.status).toBe(0);
  });

  it('fails when the TSA does not answer, naming it; a policy that allows it signs without a timestamp and says why', async () => {
    const silent = await silentTsaUrl();
    await expect(authenticode(ec, fixtures.pe, { slug: 'strict', tsaUrl: silent, allowWithoutTimestamp: false })).rejects.toThrow(
      new RegExp(`time-stamping authority ${new URL(silent).host.replace('.', '\\.')} did not answer`),
    );
    const { signed, result } = await authenticode(ec, fixtures.pe, { slug: 'lenient', tsaUrl: silent, allowWithoutTimestamp: true });
    expect(result.timestamp).toBeNull();
    expect(result.noTimestampReason).toMatch(/did not answer.*signed without a timestamp, as signing policy lenient allows/);
    expect((await osslsigncodeVerify(signed, 'app.exe', ec.certificatePem)).output).toContain('Timestamp is not available');
  });
});

describe('files that do not fit Authenticode', () => {
  const kind = (fileName: string, data: Buffer) => authenticodeKind(fileName, data.subarray(0, 65536), data.length);

  it('recognizes each kind by content', () => {
    expect(kind('app.exe', fixtures.pe.data)).toEqual({ kind: 'pe' });
    expect(kind('APP.DLL', minimalPe(10))).toEqual({ kind: 'pe' });
    expect(kind('setup.msi', fixtures.msi.data)).toEqual({ kind: 'msi' });
    expect(kind('bundle.cab', fixtures.cab.data)).toEqual({ kind: 'cab' });
    expect(kind('drivers.cat', fixtures.cat.data)).toEqual({ kind: 'cat' });
    expect(kind('install.psm1', fixtures.powershell.data)).toEqual({ kind: 'powershell' });
  });

  it('refuses a text file named .exe, an MZ file without a PE header, a PE named .zip, and a binary .ps1, saying why', () => {
    expect(kind('app.exe', Buffer.from('just text, not a program'))).toEqual({
      problem: 'app.exe is named like a PE file (.exe, .dll, .sys, .efi) but its content is not: Authenticode signs PE files (.exe, .dll, .sys, .efi), MSI, CAB, CAT and PowerShell scripts (.ps1, .psm1, .psd1)',
    });
    const mzOnly = Buffer.alloc(256);
    mzOnly.write('MZ', 0, 'latin1');
    mzOnly.writeUInt32LE(0x80, 0x3c);
    expect(kind('app.exe', mzOnly)).toEqual({ problem: 'app.exe is not a valid PE file: it has an MZ header but no PE signature where the header points' });
    expect(kind('app.zip', fixtures.pe.data)).toEqual({ problem: 'app.zip is a PE file (.exe, .dll, .sys, .efi) by content but named .zip; name it .exe or .dll or .sys or .efi' });
    expect(kind('tool.ps1', fixtures.pe.data)).toEqual({ problem: 'tool.ps1 is named like a PowerShell script but its content is a PE file (.exe, .dll, .sys, .efi)' });
    expect(kind('notes.txt', Buffer.from('hello'))).toMatchObject({ problem: expect.stringMatching(/^notes\.txt is not a file Authenticode can sign/) });
  });
});

describe('detached CMS with a timestamp', () => {
  it('carries id-aa-timeStampToken over the signature value: openssl cms and openssl ts -verify accept both', async () => {
    const artifact = Buffer.from('artifact bytes '.repeat(100));
    const result: TimestampResult = { timestamp: null, noTimestampReason: null };
    const plan = timestampPlan(tsaSettings(), { slug: 'stamped', tsaUrl: tsa.url, allowWithoutTimestamp: false });
    const signature = await signDetached({
      certificatePem: rsa.certificatePem,
      signer: softwareSigner(Buffer.from(rsa.privateKeyPkcs8)),
      contentSha256: createHash('sha256').update(artifact).digest(),
      timestamp: (value) => plan.obtain(value, result),
    });
    expect(verifyWithOpenssl(signature, artifact, rsa.certificatePem).status).toBe(0);
    const { signatureValue, unsignedAttributes } = readSignerInfo(signature);
    const token = unsignedAttributes.get(OID.cmsTimestampToken);
    expect(token).toBeDefined();
    const digest = createHash('sha256').update(signatureValue).digest('hex');
    const verified = await opensslTsVerify(token!, digest, tsa.rootPem);
    expect(verified.output).toContain('Verification: OK');
    // The token is bound to this signature value, not another.
    expect((await opensslTsVerify(token!, createHash('sha256').update('other').digest('hex'), tsa.rootPem)).status).not.toBe(0);
    expect(result.timestamp?.tsaUrl).toBe(tsa.url);
  });

  it('records the installation\'s TSA without the credentials its URL may carry', async () => {
    const withCredentials = tsa.url.replace('http://', 'http://signet:s3cret-tsa-password@');
    const result: TimestampResult = { timestamp: null, noTimestampReason: null };
    const plan = timestampPlan(tsaSettings({ SIGNET_TSA_URL: withCredentials }), noTsaPolicy);
    await signDetached({
      certificatePem: ec.certificatePem,
      signer: softwareSigner(Buffer.from(ec.privateKeyPkcs8)),
      contentSha256: createHash('sha256').update('y').digest(),
      timestamp: (value) => plan.obtain(value, result),
    });
    expect(result.timestamp?.tsaUrl).toBe(tsa.url);
    expect(JSON.stringify(result)).not.toContain('s3cret');
  });

  it('fails with the reason when the installation\'s TSA does not answer', async () => {
    const plan = timestampPlan(tsaSettings({ SIGNET_TSA_URL: await silentTsaUrl() }), noTsaPolicy);
    const signing = signDetached({
      certificatePem: ec.certificatePem,
      signer: softwareSigner(Buffer.from(ec.privateKeyPkcs8)),
      contentSha256: createHash('sha256').update('x').digest(),
      timestamp: (value) => plan.obtain(value, { timestamp: null, noTimestampReason: null }),
    });
    await expect(signing).rejects.toBeInstanceOf(TimestampUnavailable);
    await expect(signing).rejects.toThrow(/did not answer: .*ECONNREFUSED/);
  });
});

describe('detached OpenPGP', () => {
  it('signs any file with the certificate\'s OpenPGP key: gpg --verify accepts it, and rejects a changed byte', async () => {
    const certificate = { id: 'cert-openpgp', name: 'Formats OpenPGP' } as CertificateRecord;
    Object.assign(certificate, await newOpenpgpKey({ masterKey }, certificate.id, certificate.name));
    expect(certificate.openpgpPublicKey).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(certificate.openpgpPublicKey).not.toMatch(/PRIVATE/);
    const data = Buffer.from('a tarball, say '.repeat(5000));
    const file = path.join(dir, 'release.tar.gz');
    writeFileSync(file, data);
    const signature = await signOpenpgpDetached({ masterKey }, certificate, file);
    expect(signature.toString()).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    const verified = await gpgVerify(signature, data, certificate.openpgpPublicKey!);
    expect(verified.output).toContain('[GNUPG:] GOODSIG');
    expect(verified.output).toContain(`[GNUPG:] VALIDSIG ${certificate.openpgpFingerprint}`);
    expect(verified.status).toBe(0);
    const changed = Buffer.from(data);
    changed[100] = changed[100]! ^ 0x01;
    const broken = await gpgVerify(signature, changed, certificate.openpgpPublicKey!);
    expect(broken.output).toContain('[GNUPG:] BADSIG');
    expect(broken.status).not.toBe(0);
  });

  it('cannot open the sealed OpenPGP key under another certificate\'s id', async () => {
    const sealed = await newOpenpgpKey({ masterKey }, 'cert-a', 'A');
    const other = { id: 'cert-b', name: 'B', ...sealed } as CertificateRecord;
    const file = path.join(dir, 'x.bin');
    writeFileSync(file, 'x');
    await expect(signOpenpgpDetached({ masterKey }, other, file)).rejects.toThrow(/cannot decrypt/);
  });
});

describe('Authenticode with a key in a PKCS#11 token (SoftHSM2)', () => {
  it('lets osslsigncode sign through the token (the PIN over stdin) and timestamps it: osslsigncode verify accepts it', async () => {
    const token = await softhsmToken(dir);
    const previous = process.env.SOFTHSM2_CONF;
    process.env.SOFTHSM2_CONF = token.conf;
    try {
      const work = path.join(dir, `token-${++seq}`);
      mkdirSync(work);
      const input = path.join(work, 'artifact');
      writeFileSync(input, fixtures.pe.data);
      const result = await signAuthenticode({
        certificatePem: token.certificatePem,
        signer: {
          keyType: 'ec',
          // The key stays in the token: osslsigncode uses it there, nothing signs in this process.
          sign: () => Promise.reject(new Error('a token-held key is used by osslsigncode itself')),
          pkcs11: { modulePath: SOFTHSM_MODULE, uri: `pkcs11:token=${token.label};object=${token.keyLabel};type=private`, pin: token.pin },
          close() {},
        },
        fileName: 'app.exe',
        input,
        output: path.join(work, 'signed-artifact'),
        workDir: work,
        timestamp: timestampPlan(tsaSettings(), { slug: 'token', tsaUrl: tsa.url, allowWithoutTimestamp: false }),
      });
      expect(result.timestamp?.tsaUrl).toBe(tsa.url);
      const signed = readFileSync(path.join(work, 'signed-artifact'));
      const verified = await osslsigncodeVerify(signed, 'app.exe', token.certificatePem, tsa.rootPem);
      expect(verified.output).toContain('Timestamp Server Signature verification: ok');
      expect(verified.status).toBe(0);
      expect((await osslsigncodeVerify(tampered(signed, fixtures.pe.marker), 'app.exe', token.certificatePem)).status).not.toBe(0);

      // A wrong PIN fails with osslsigncode's reason, and no file is left.
      const wrong = path.join(dir, `token-${++seq}`);
      mkdirSync(wrong);
      writeFileSync(path.join(wrong, 'artifact'), fixtures.pe.data);
      await expect(
        signAuthenticode({
          certificatePem: token.certificatePem,
          signer: { keyType: 'ec', sign: () => Promise.reject(new Error('unused')), pkcs11: { modulePath: SOFTHSM_MODULE, uri: `pkcs11:token=${token.label};object=${token.keyLabel};type=private`, pin: '0000' }, close() {} },
          fileName: 'app.exe',
          input: path.join(wrong, 'artifact'),
          output: path.join(wrong, 'signed-artifact'),
          workDir: wrong,
          timestamp: timestampPlan(tsaSettings(), noTsaPolicy),
        }),
      ).rejects.toThrow(/osslsigncode could not sign app\.exe with the token key/);
      expect(existsSync(path.join(wrong, 'signed-artifact'))).toBe(false);
    } finally {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
    }
  });
});
