// Signing crypto (SPEC §4 "Certificate", "Signing"), checked against the real openssl binary:
// generated and imported certificates, detached CMS signatures that `openssl cms -verify`
// accepts (and rejects once the artifact changes), PKCS#12 import, and the key vault.
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateProblem,
  describeCertificate,
  generateSelfSigned,
  importPem,
  importPkcs12,
  type CertificateMaterial,
} from '../../../server/signing/certificates.js';
import { sha256File, signDetached } from '../../../server/signing/cms.js';
import { openPrivateKey, sealPrivateKey } from '../../../server/store/keyVault.js';
import { softwareSigner } from '../../../server/signing/custody/signer.js';

const OPENSSL = '/usr/bin/openssl';
let dir: string;
let seq = 0;

function file(name: string): string {
  return path.join(dir, name);
}

function openssl(args: string[], input?: string | Buffer): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(OPENSSL, args, { cwd: dir, input, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Run openssl and insist on success. */
function ok(args: string[]): string {
  const result = openssl(args);
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function writeTemp(prefix: string, data: string | Buffer): string {
  const p = file(`${prefix}-${++seq}`);
  writeFileSync(p, data);
  return p;
}

/** exactly the verification command from the spec; returns the exit status */
function opensslVerify(signature: Buffer, artifactPath: string, certificatePem: string): number {
  const sigPath = writeTemp('sig.der', signature);
  const certPath = writeTemp('cert.pem', certificatePem);
  return openssl([
    'cms', '-verify', '-binary', '-inform', 'DER', '-in', sigPath, '-content', artifactPath,
    '-CAfile', certPath, '-purpose', 'any', '-out', '/dev/null',
  ]).status;
}

function flipByte(p: string, offset: number): void {
  const data = readFileSync(p);
  data[offset] = data[offset]! ^ 0x01;
  writeFileSync(p, data);
}

async function signFile(material: CertificateMaterial, artifactPath: string, signingTime?: Date): Promise<Buffer> {
  return signDetached({
    certificatePem: material.certificatePem,
    signer: softwareSigner(Buffer.from(material.privateKeyPkcs8)),
    contentSha256: await sha256File(artifactPath),
    signingTime,
  });
}

/** sign a small random artifact, expect openssl to accept it, then to reject a one-byte change */
async function expectSignsAndVerifies(material: CertificateMaterial): Promise<void> {
  const artifact = writeTemp('artifact.bin', randomBytes(3000));
  const signature = await signFile(material, artifact);
  expect(opensslVerify(signature, artifact, material.certificatePem)).toBe(0);
  flipByte(artifact, 1234);
  expect(opensslVerify(signature, artifact, material.certificatePem)).not.toBe(0);
}

/** the messageDigest signed attribute, from `openssl cms -cmsout -print` */
function messageDigestOf(printed: string): string {
  const section = printed.split('object: messageDigest')[1]?.split('signatureAlgorithm')[0] ?? '';
  return [...section.matchAll(/^\s+[0-9a-f]{4} - (.*?)\s{2,}/gm)].map((m) => m[1]!.replace(/[ -]/g, '')).join('');
}

function opensslFingerprint(certPath: string): string {
  return ok(['x509', '-noout', '-fingerprint', '-sha256', '-in', certPath]).split('=')[1]!.trim();
}

const ALGORITHMS = ['RSA-2048', 'RSA-3072', 'ECDSA-P256'] as const;
const generated = {} as Record<(typeof ALGORITHMS)[number], CertificateMaterial>;
let bigArtifact: string;

// openssl-made material
const PASS = 'correct horse battery';
let rsaKeyPem: string;
let rsaCertPem: string;
let ecKeyPem: string; // SEC1 with a leading EC PARAMETERS block (openssl ecparam -genkey)
let ecCertPem: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'signet-signing-'));
  const generating = Promise.all([
    generateSelfSigned({ commonName: 'Build Bot', organization: 'Acme, Inc.', algorithm: 'RSA-2048', validDays: 30, type: 'test' }),
    generateSelfSigned({ commonName: 'Build Bot', algorithm: 'RSA-3072', validDays: 30, type: 'test' }),
    generateSelfSigned({ commonName: 'Build Bot', algorithm: 'ECDSA-P256', validDays: 30, type: 'test' }),
  ]);
  ok(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-out', 'rsa.crt', '-days', '30', '-subj', '/CN=Imported RSA/O=Acme']);
  ok(['ecparam', '-name', 'prime256v1', '-genkey', '-out', 'ec.key']);
  ok(['req', '-x509', '-new', '-key', 'ec.key', '-out', 'ec.crt', '-days', '30', '-subj', '/CN=Imported EC']);
  rsaKeyPem = readFileSync(file('rsa.key'), 'utf8');
  rsaCertPem = readFileSync(file('rsa.crt'), 'utf8');
  ecKeyPem = readFileSync(file('ec.key'), 'utf8');
  ecCertPem = readFileSync(file('ec.crt'), 'utf8');
  bigArtifact = file('big.bin');
  writeFileSync(bigArtifact, randomBytes(5 * 1024 * 1024));
  [generated['RSA-2048'], generated['RSA-3072'], generated['ECDSA-P256']] = await generating;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('generated self-signed code-signing certificates', () => {
  describe.each(ALGORITHMS)('%s', (algorithm) => {
    it('is a code-signing certificate that describeCertificate reads like openssl does', () => {
      const material = generated[algorithm];
      const certPath = writeTemp('gen.pem', material.certificatePem);
      const text = ok(['x509', '-noout', '-text', '-in', certPath]);
      expect(ok(['x509', '-noout', '-ext', 'extendedKeyUsage', '-in', certPath])).toContain('Code Signing');
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\s*\n/);
      expect(text).toMatch(/X509v3 Basic Constraints:( critical)?\s+CA:FALSE/);
      expect(text).toContain('X509v3 Subject Key Identifier');
      expect(text).toContain('Signature Algorithm: ' + (algorithm.startsWith('RSA') ? 'sha256WithRSAEncryption' : 'ecdsa-with-SHA256'));

      const details = describeCertificate(material.certificatePem);
      expect(details.fingerprintSha256).toBe(opensslFingerprint(certPath));
      expect(details.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(details.serialNumber).toBe(ok(['x509', '-noout', '-serial', '-in', certPath]).trim().replace(/^serial=/, ''));
      expect(details.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/); // 128-bit, positive
      expect(details.algorithm).toBe(algorithm);
      expect(details.selfSigned).toBe(true);
      expect(details.subject).toContain('CN=TEST Build Bot');
      expect(details.issuer).toBe(details.subject);
      const days = (Date.parse(details.notAfter) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(29.9);
      expect(days).toBeLessThan(30.1);
      expect(certificateProblem(details)).toBeNull();
      // the private key is the certificate's
      const keyPath = writeTemp('gen.key', Buffer.from(material.privateKeyPkcs8));
      const keyPub = ok(['pkey', '-inform', 'DER', '-in', keyPath, '-pubout']);
      const certPub = ok(['x509', '-noout', '-pubkey', '-in', certPath]);
      expect(keyPub).toBe(certPub);
    });

    it('signs a small artifact: openssl cms -verify accepts it, and rejects a changed byte', async () => {
      await expectSignsAndVerifies(generated[algorithm]);
    });

    it('signs a 5 MB artifact from its streamed SHA-256', async () => {
      const material = generated[algorithm];
      const artifact = writeTemp('big-copy.bin', readFileSync(bigArtifact));
      const digest = await sha256File(artifact);
      expect(digest.equals(createHash('sha256').update(readFileSync(artifact)).digest())).toBe(true);
      const signingTime = new Date('2030-01-02T03:04:05Z');
      const signature = await signDetached({
        certificatePem: material.certificatePem,
        signer: softwareSigner(Buffer.from(material.privateKeyPkcs8)),
        contentSha256: digest,
        signingTime,
      });
      expect(signature.length).toBeLessThan(4096); // detached: the artifact is not inside
      expect(opensslVerify(signature, artifact, material.certificatePem)).toBe(0);

      const printed = ok(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', writeTemp('sig.der', signature)]);
      expect(printed).toMatch(/eContentType: pkcs7-data \(1\.2\.840\.113549\.1\.7\.1\)\s+eContent: <ABSENT>/);
      expect(printed).toContain('object: signingTime');
      expect(printed).toMatch(/UTCTIME:Jan\s+2 03:04:05 2030 GMT/);
      expect(printed).toContain('object: contentType');
      expect(printed).toMatch(/digestAlgorithm:\s+algorithm: sha256 /);
      expect(printed).toContain(
        `signatureAlgorithm: \n          algorithm: ${algorithm.startsWith('RSA') ? 'sha256WithRSAEncryption' : 'ecdsa-with-SHA256'}`,
      );
      expect(messageDigestOf(printed)).toBe(digest.toString('hex'));

      flipByte(artifact, 4 * 1024 * 1024 + 17);
      expect(opensslVerify(signature, artifact, material.certificatePem)).not.toBe(0);
    });
  });

  it('prefixes test certificates with TEST, but not release ones or names that already say test', async () => {
    const [release, alreadyTest] = await Promise.all([
      generateSelfSigned({ commonName: 'Acme Release', algorithm: 'ECDSA-P256', validDays: 365, type: 'release' }),
      generateSelfSigned({ commonName: 'Acme Testing Key', algorithm: 'ECDSA-P256', validDays: 365, type: 'test' }),
    ]);
    expect(describeCertificate(release.certificatePem).subject).toBe('CN=Acme Release');
    expect(describeCertificate(alreadyTest.certificatePem).subject).toBe('CN=Acme Testing Key');
  });

  it('rejects bad generation options', async () => {
    await expect(generateSelfSigned({ commonName: '  ', algorithm: 'ECDSA-P256', validDays: 10, type: 'test' })).rejects.toThrow(/common name/);
    await expect(generateSelfSigned({ commonName: 'x', algorithm: 'ECDSA-P256', validDays: 0, type: 'test' })).rejects.toThrow(/validDays/);
    await expect(
      generateSelfSigned({ commonName: 'x', algorithm: 'DSA-1024' as 'ECDSA-P256', validDays: 10, type: 'test' }),
    ).rejects.toThrow(/unsupported key algorithm/);
  });

  it('reports an expired certificate, and one not yet valid', async () => {
    const material = await generateSelfSigned({ commonName: 'Short', algorithm: 'ECDSA-P256', validDays: 1, type: 'release' });
    const details = describeCertificate(material.certificatePem);
    expect(certificateProblem(details, new Date())).toBeNull();
    const later = new Date(Date.now() + 2 * 86_400_000);
    expect(certificateProblem(details, later)).toBe(`the certificate expired on ${details.notAfter}`);
    const earlier = new Date(Date.parse(details.notBefore) - 60_000);
    expect(certificateProblem(details, earlier)).toBe(`the certificate is not valid before ${details.notBefore}`);
  });
});

describe('signDetached input checks', () => {
  it('refuses a key that is not the certificate\'s, and a digest that is not SHA-256 sized', async () => {
    await expect(
      signDetached({
        certificatePem: generated['RSA-2048'].certificatePem,
        signer: softwareSigner(Buffer.from(generated['ECDSA-P256'].privateKeyPkcs8)),
        contentSha256: randomBytes(32),
      }),
    ).rejects.toThrow(/does not match/);
    await expect(
      signDetached({
        certificatePem: generated['ECDSA-P256'].certificatePem,
        signer: softwareSigner(Buffer.from(generated['ECDSA-P256'].privateKeyPkcs8)),
        contentSha256: randomBytes(20),
      }),
    ).rejects.toThrow(/32-byte SHA-256/);
  });
});

describe('importing certificates made by openssl', () => {
  it('imports a PEM RSA certificate and unencrypted key, and signs with them', async () => {
    const material = await importPem(rsaCertPem, rsaKeyPem);
    // a passphrase offered for a key that is not encrypted is simply not needed
    expect((await importPem(rsaCertPem, rsaKeyPem, 'unused')).privateKeyPkcs8.equals(material.privateKeyPkcs8)).toBe(true);
    const details = describeCertificate(material.certificatePem);
    expect(details.fingerprintSha256).toBe(opensslFingerprint(file('rsa.crt')));
    expect(details.algorithm).toBe('RSA-2048');
    expect(details.subject).toBe('CN=Imported RSA, O=Acme');
    expect(details.selfSigned).toBe(true);
    await expectSignsAndVerifies(material);
  });

  it('imports a PEM EC P-256 certificate with an SEC1 key (EC PARAMETERS block included)', async () => {
    expect(ecKeyPem).toContain('BEGIN EC PARAMETERS');
    expect(ecKeyPem).toContain('BEGIN EC PRIVATE KEY');
    const material = await importPem(ecCertPem, ecKeyPem);
    expect(describeCertificate(material.certificatePem).algorithm).toBe('ECDSA-P256');
    await expectSignsAndVerifies(material);
  });

  it('imports a passphrase-protected PEM key (PKCS#8 and traditional) only with the right passphrase', async () => {
    const pkcs8Encrypted = ok(['pkey', '-in', 'rsa.key', '-aes256', '-passout', `pass:${PASS}`]);
    expect(pkcs8Encrypted).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    const material = await importPem(rsaCertPem, pkcs8Encrypted, PASS);
    await expectSignsAndVerifies(material);

    const traditional = ok(['rsa', '-in', 'rsa.key', '-aes256', '-traditional', '-passout', `pass:${PASS}`]);
    expect(traditional).toContain('Proc-Type: 4,ENCRYPTED');
    const fromTraditional = await importPem(rsaCertPem, traditional, PASS);
    expect(fromTraditional.privateKeyPkcs8.equals(material.privateKeyPkcs8)).toBe(true);

    await expect(importPem(rsaCertPem, pkcs8Encrypted)).rejects.toThrow(/encrypted: a passphrase is required/);
    await expect(importPem(rsaCertPem, traditional)).rejects.toThrow(/encrypted: a passphrase is required/);
    await expect(importPem(rsaCertPem, pkcs8Encrypted, 'not it')).rejects.toThrow(/wrong passphrase/);
  });

  it('imports PKCS#12 (OpenSSL 3 defaults: AES-256-CBC, PBKDF2, SHA-256 MAC) for RSA and EC keys', async () => {
    ok(['pkcs12', '-export', '-inkey', 'rsa.key', '-in', 'rsa.crt', '-out', 'rsa.p12', '-passout', `pass:${PASS}`]);
    ok(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ec2.key', '-out', 'ec2.crt', '-days', '30', '-subj', '/CN=PFX EC']);
    ok(['pkcs12', '-export', '-inkey', 'ec2.key', '-in', 'ec2.crt', '-out', 'ec.p12', '-passout', `pass:${PASS}`]);
    const info = openssl(['pkcs12', '-in', 'rsa.p12', '-info', '-noout', '-passin', `pass:${PASS}`]);
    expect(info.stdout + info.stderr).toMatch(/MAC: sha256/);
    expect(info.stdout + info.stderr).toMatch(/PBES2, PBKDF2, AES-256-CBC/);

    const rsa = await importPkcs12(readFileSync(file('rsa.p12')), PASS);
    expect(describeCertificate(rsa.certificatePem).fingerprintSha256).toBe(opensslFingerprint(file('rsa.crt')));
    expect(rsa.privateKeyPkcs8.equals((await importPem(rsaCertPem, rsaKeyPem)).privateKeyPkcs8)).toBe(true);
    await expectSignsAndVerifies(rsa);

    const ec = await importPkcs12(readFileSync(file('ec.p12')), PASS);
    const ecDetails = describeCertificate(ec.certificatePem);
    expect(ecDetails.fingerprintSha256).toBe(opensslFingerprint(file('ec2.crt')));
    expect(ecDetails.algorithm).toBe('ECDSA-P256');
    await expectSignsAndVerifies(ec);

    await expect(importPkcs12(readFileSync(file('rsa.p12')), 'wrong')).rejects.toThrow(/wrong password/);
    await expect(importPkcs12(readFileSync(file('ec.p12')), '')).rejects.toThrow(/wrong password/);
  });

  it('imports a CA-issued certificate from a PEM bundle: picks the leaf that matches the key, not self-signed', async () => {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    ok(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=Acme Root']);
    ok(['req', '-new', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=Acme Signer/O=Acme']);
    ok(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-days', '30']);
    const bundle = readFileSync(file('ca.crt'), 'utf8') + readFileSync(file('leaf.crt'), 'utf8');
    const material = await importPem(bundle, readFileSync(file('leaf.key'), 'utf8'));
    const details = describeCertificate(material.certificatePem);
    expect(details.fingerprintSha256).toBe(opensslFingerprint(file('leaf.crt')));
    expect(details.subject).toBe('CN=Acme Signer, O=Acme');
    expect(details.issuer).toBe('CN=Acme Root');
    expect(details.selfSigned).toBe(false);
    expect(describeCertificate(readFileSync(file('ca.crt'), 'utf8')).selfSigned).toBe(true);
  });

  it('rejects a key that does not match the certificate', async () => {
    await expect(importPem(rsaCertPem, ecKeyPem)).rejects.toThrow(/does not match the certificate/);
    await expect(importPem(ecCertPem, readFileSync(file('rsa.key'), 'utf8'))).rejects.toThrow(/does not match the certificate/);
    // same algorithm, different key
    const otherRsaKey = createPrivateKey({ key: generated['RSA-2048'].privateKeyPkcs8, format: 'der', type: 'pkcs8' });
    await expect(importPem(rsaCertPem, otherRsaKey.export({ type: 'pkcs8', format: 'pem' }) as string)).rejects.toThrow(
      /does not match the certificate/,
    );
    // and a failed match leaves nothing behind that breaks the next import
    await expect(importPem(rsaCertPem, rsaKeyPem)).resolves.toBeTruthy();
  });

  it('rejects garbage', async () => {
    await expect(importPem('hello', rsaKeyPem)).rejects.toThrow(/no certificate found/);
    await expect(importPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', rsaKeyPem)).rejects.toThrow(
      /certificate could not be parsed/,
    );
    await expect(importPem(rsaCertPem, 'world')).rejects.toThrow(/no private key found/);
    await expect(importPem(rsaCertPem, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).rejects.toThrow(
      /private key could not be parsed/,
    );
    await expect(importPkcs12(randomBytes(256), PASS)).rejects.toThrow(/not a PKCS#12/);
    await expect(importPkcs12(Buffer.alloc(0), PASS)).rejects.toThrow(/empty/);
    await expect(importPkcs12(Buffer.from(rsaCertPem), PASS)).rejects.toThrow(/not a PKCS#12/);
  });

  it('rejects unsupported key algorithms and legacy PKCS#12 encryption', async () => {
    ok(['req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', 'ed.key', '-out', 'ed.crt', '-days', '30', '-subj', '/CN=Ed']);
    await expect(importPem(readFileSync(file('ed.crt'), 'utf8'), readFileSync(file('ed.key'), 'utf8'))).rejects.toThrow(
      /unsupported key algorithm: ed25519/,
    );
    ok(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', 'p384.key', '-out', 'p384.crt', '-days', '30', '-subj', '/CN=P384']);
    await expect(importPem(readFileSync(file('p384.crt'), 'utf8'), readFileSync(file('p384.key'), 'utf8'))).rejects.toThrow(
      /only P-256/,
    );
    ok(['req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'rsa1024.key', '-out', 'rsa1024.crt', '-days', '30', '-subj', '/CN=Weak']);
    await expect(importPem(readFileSync(file('rsa1024.crt'), 'utf8'), readFileSync(file('rsa1024.key'), 'utf8'))).rejects.toThrow(
      /at least 2048 bits/,
    );

    ok(['pkcs12', '-export', '-inkey', 'rsa.key', '-in', 'rsa.crt', '-out', 'legacy.p12', '-passout', `pass:${PASS}`,
      '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']);
    await expect(importPkcs12(readFileSync(file('legacy.p12')), PASS)).rejects.toThrow(/legacy PKCS#12 encryption is not supported/);
    await expect(importPkcs12(readFileSync(file('legacy.p12')), 'wrong')).rejects.toThrow(/wrong password/);
  });
});

describe('key vault', () => {
  const masterKey = randomBytes(32);
  const pkcs8 = () => generated['ECDSA-P256'].privateKeyPkcs8;

  it('round-trips a private key, and the sealed form does not contain it', () => {
    const sealed = sealPrivateKey(masterKey, pkcs8(), 'cert-1');
    expect(sealed.alg).toBe('A256GCM');
    expect(Buffer.from(sealed.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(sealed.tag, 'base64')).toHaveLength(16);
    const ciphertext = Buffer.from(sealed.ciphertext, 'base64');
    expect(ciphertext.includes(pkcs8().subarray(pkcs8().length - 32))).toBe(false);
    expect(openPrivateKey(masterKey, sealed, 'cert-1').equals(pkcs8())).toBe(true);
    // fresh IV each time
    expect(sealPrivateKey(masterKey, pkcs8(), 'cert-1').iv).not.toBe(sealed.iv);
  });

  it('refuses another context, another master key, and tampering', () => {
    const sealed = sealPrivateKey(masterKey, pkcs8(), 'cert-1');
    expect(() => openPrivateKey(masterKey, sealed, 'cert-2')).toThrow(/cannot decrypt the private key/);
    expect(() => openPrivateKey(randomBytes(32), sealed, 'cert-1')).toThrow(/cannot decrypt the private key/);
    const ciphertext = Buffer.from(sealed.ciphertext, 'base64');
    ciphertext[5] = ciphertext[5]! ^ 0x80;
    expect(() => openPrivateKey(masterKey, { ...sealed, ciphertext: ciphertext.toString('base64') }, 'cert-1')).toThrow(
      /tampered/,
    );
    const tag = Buffer.from(sealed.tag, 'base64');
    tag[0] = tag[0]! ^ 0x01;
    expect(() => openPrivateKey(masterKey, { ...sealed, tag: tag.toString('base64') }, 'cert-1')).toThrow(/tampered/);
    expect(() => openPrivateKey(masterKey, { ...sealed, iv: 'AAAA' }, 'cert-1')).toThrow(/malformed/);
    expect(() => sealPrivateKey(randomBytes(16), pkcs8(), 'cert-1')).toThrow(/32 bytes/);
  });
});
