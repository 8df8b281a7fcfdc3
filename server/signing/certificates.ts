// Code-signing certificates: self-signed generation and PKCS#10 requests for a key in either custody
// (signed through its KeySigner, so a token key signs in the token), the certificate a CA issued
// for a request, PEM / PKCS#12 import, description. @peculiar/x509 builds and parses X.509 and
// PKCS#10; pkijs unpacks PKCS#12; node:crypto (webcrypto and KeyObject) is the crypto engine.
// Software keys leave this module as unencrypted PKCS#8 DER, to be sealed by keyVault.ts straight away.
import 'reflect-metadata'; // tsyringe (used by @peculiar/x509) needs the Reflect polyfill first
import * as x509 from '@peculiar/x509';
import * as pkijs from 'pkijs';
import * as asn1js from 'asn1js';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  webcrypto,
  X509Certificate as NodeX509Certificate,
  type KeyObject,
} from 'node:crypto';
import { softwareSigner, type KeySigner } from './custody/signer.js';
import { ecdsaDerToRaw } from './custody/ecdsa.js';

const crypto = webcrypto as unknown as Crypto;
const pkiEngine = new pkijs.CryptoEngine({ name: 'node', crypto });

export type KeyAlgorithm = 'RSA-2048' | 'RSA-3072' | 'ECDSA-P256';
export type CertificateType = 'test' | 'release';

export interface GenerateOptions {
  commonName: string;
  organization?: string;
  algorithm: KeyAlgorithm;
  validDays: number;
  type: CertificateType;
}

export interface CertificateMaterial {
  /** The (leaf) certificate, PEM, `\n` line endings. */
  certificatePem: string;
  /** The matching private key, unencrypted PKCS#8 DER. */
  privateKeyPkcs8: Buffer;
}

export interface CertificateDetails {
  subject: string;
  issuer: string;
  /** upper-case hex */
  serialNumber: string;
  /** ISO 8601 */
  notBefore: string;
  /** ISO 8601 */
  notAfter: string;
  /** SHA-256 of the DER, upper-case hex pairs separated by colons (like openssl) */
  fingerprintSha256: string;
  algorithm: 'RSA-2048' | 'RSA-3072' | 'RSA-4096' | 'ECDSA-P256' | string;
  selfSigned: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_VALID_DAYS = 100 * 366;
const NAME_MAX = 64; // X.520 ub-common-name / ub-organization-name

const KEY_GEN: Record<KeyAlgorithm, RsaHashedKeyGenParams | EcKeyGenParams> = {
  'RSA-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'RSA-3072': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'ECDSA-P256': { name: 'ECDSA', namedCurve: 'P-256' },
};

function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  return new Uint8Array(data).buffer;
}

function normalizePem(pem: string): string {
  return pem.replace(/\r\n?/g, '\n').trim() + '\n';
}

/** Random positive serial: 16 bytes, high bit clear, first byte non-zero (minimal DER). */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

function cleanName(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`${what} must be a string`);
  const trimmed = value.trim();
  if (!trimmed) return undefined;
  if (trimmed.length > NAME_MAX) throw new Error(`${what} is too long (at most ${NAME_MAX} characters)`);
  return trimmed;
}

/** A key to certify, wherever it lives: its public key and a signer (software or token). */
export interface CertifiableKey {
  publicKey: KeyObject;
  signer: KeySigner;
}

export interface SelfSignedOptions {
  commonName: string;
  organization?: string;
  validDays: number;
  type: CertificateType;
}

function assertValidDays(validDays: number): void {
  if (typeof validDays !== 'number' || !Number.isFinite(validDays) || validDays <= 0 || validDays > MAX_VALID_DAYS) {
    throw new Error(`validDays must be a positive number of days (at most ${MAX_VALID_DAYS})`);
  }
}

/**
 * A WebCrypto for @peculiar/x509 whose `sign` goes through the key's signer (so a token key signs
 * in the token), and the key pair it expects: the real public key and a stand-in private key that
 * only names the algorithm.
 */
async function signingCrypto(key: CertifiableKey): Promise<{ crypto: Crypto; keys: CryptoKeyPair }> {
  const ec = key.signer.keyType === 'ec';
  const params = ec ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const spki = key.publicKey.export({ type: 'spki', format: 'der' });
  const publicKey = await crypto.subtle.importKey('spki', toArrayBuffer(spki), params, true, ['verify']);
  const privateKey = { algorithm: publicKey.algorithm, type: 'private', extractable: false, usages: ['sign'] } as unknown as CryptoKey;
  const sign = async (_algorithm: unknown, _key: unknown, data: BufferSource): Promise<ArrayBuffer> => {
    const bytes = Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const signature = await key.signer.sign(bytes);
    return toArrayBuffer(ec ? ecdsaDerToRaw(signature) : signature);
  };
  const bound = <T extends object>(target: T, overrides: Record<string, unknown>): T =>
    new Proxy(target, {
      get(object, property) {
        if (typeof property === 'string' && property in overrides) return overrides[property];
        const value = Reflect.get(object, property, object);
        return typeof value === 'function' ? value.bind(object) : value;
      },
    });
  return { crypto: bound(crypto, { subtle: bound(crypto.subtle, { sign }) }), keys: { publicKey, privateKey } };
}

function signingAlgorithmOf(key: CertifiableKey): Algorithm | EcdsaParams {
  return key.signer.keyType === 'ec' ? ({ name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams) : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm;
}

/** A self-signed code-signing certificate for the key, signed by it (in the token, for a token key). */
export async function selfSignedCertificate(key: CertifiableKey, options: SelfSignedOptions): Promise<string> {
  if (options.type !== 'test' && options.type !== 'release') {
    throw new Error(`unknown certificate type: ${String(options.type)}`);
  }
  assertValidDays(options.validDays);
  let commonName = cleanName(options.commonName, 'the common name');
  if (!commonName) throw new Error('a common name is required');
  if (options.type === 'test' && !/test/i.test(commonName)) commonName = `TEST ${commonName}`.slice(0, NAME_MAX);
  const organization = cleanName(options.organization, 'the organization');

  const { crypto: signing, keys } = await signingCrypto(key);
  const now = Date.now();
  const name: x509.JsonName = [{ CN: [commonName] }];
  if (organization) name.push({ O: [organization] });
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name,
      // a little slack for clocks that run behind
      notBefore: new Date(now - 5 * 60 * 1000),
      notAfter: new Date(now + options.validDays * DAY_MS),
      keys,
      signingAlgorithm: signingAlgorithmOf(key),
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning], false),
        new x509.BasicConstraintsExtension(false, undefined, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, signing),
      ],
    },
    signing,
  );
  if (!(await cert.verify({ publicKey: keys.publicKey, signatureOnly: true }, crypto))) {
    throw new Error('the key produced a signature that does not verify');
  }
  return normalizePem(cert.toString('pem'));
}

/** Generates a software key and its self-signed certificate (the key as PKCS#8, to be sealed at once). */
export async function generateSelfSigned(options: GenerateOptions): Promise<CertificateMaterial> {
  const keyGen = KEY_GEN[options.algorithm];
  if (!keyGen) throw new Error(`unsupported key algorithm: ${String(options.algorithm)}`);
  assertValidDays(options.validDays);
  const keys = (await crypto.subtle.generateKey(keyGen, true, ['sign', 'verify'])) as CryptoKeyPair;
  const privateKeyPkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const signer = softwareSigner(Buffer.from(privateKeyPkcs8));
  try {
    const publicKey = createPublicKey(createPrivateKey({ key: privateKeyPkcs8, format: 'der', type: 'pkcs8' }));
    return { certificatePem: await selfSignedCertificate({ publicKey, signer }, options), privateKeyPkcs8 };
  } finally {
    signer.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Certificate signing requests (PKCS#10) and the certificates CAs issue for them

/** The subject an admin enters for a CSR (X.520 upper bounds). */
export interface CsrSubject {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  locality?: string;
  state?: string;
  /** ISO 3166 two-letter code */
  country?: string;
  email?: string;
}

/** A PKCS#10 request for the key, signed by it, asking for a code-signing certificate: PEM, and its subject as text. */
export async function certificationRequest(key: CertifiableKey, subject: CsrSubject): Promise<{ csrPem: string; subject: string }> {
  const commonName = cleanName(subject.commonName, 'the common name');
  if (!commonName) throw new Error('a common name is required');
  const name: x509.JsonName = [];
  const add = (type: string, value: string | undefined) => {
    const clean = value?.trim();
    if (clean) name.push({ [type]: [clean] });
  };
  // Most significant first, as CAs print them.
  add('C', subject.country?.toUpperCase());
  add('ST', subject.state);
  add('L', subject.locality);
  add('O', subject.organization);
  add('OU', subject.organizationalUnit);
  add('CN', commonName);
  add('E', subject.email);

  const { crypto: signing, keys } = await signingCrypto(key);
  const request = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name,
      keys,
      signingAlgorithm: signingAlgorithmOf(key),
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning], false),
      ],
    },
    signing,
  );
  if (!(await request.verify(crypto))) throw new Error('the key produced a signature that does not verify');
  return { csrPem: normalizePem(request.toString('pem')), subject: request.subject };
}

/** The public key a CSR asks to certify. */
export function requestPublicKey(csrPem: string): KeyObject {
  const request = new x509.Pkcs10CertificateRequest(csrPem);
  return createPublicKey({ key: Buffer.from(request.publicKey.rawData), format: 'der', type: 'spki' });
}

export interface IssuedCertificate {
  /** The certificate for the key, PEM. */
  certificatePem: string;
  /** The other certificates given with it (the CA chain), PEM, or null. */
  chainPem: string | null;
  /** Accepted, but worth a look. */
  warnings: string[];
}

export const NO_CODE_SIGNING_EKU =
  'the certificate does not allow code signing: its extended key usage lacks codeSigning (1.3.6.1.5.5.7.3.3), so signature verifiers may reject what it signs';

/**
 * Picks, from the PEM a CA returned (the certificate, perhaps with its chain), the certificate of
 * this key; refuses when none is, and warns when it may not be used for code signing.
 */
export function matchIssuedCertificate(certificatesPem: string, publicKey: KeyObject): IssuedCertificate {
  const certs = parsePemCertificates(certificatesPem);
  const leaf = certs.find((candidate) => {
    const certKey = certificatePublicKey(candidate);
    return certKey !== null && samePublicKey(certKey, publicKey);
  });
  if (!leaf) {
    throw new Error(
      certs.length === 1
        ? "the certificate's public key is not this certificate's key (was it issued for another CSR?)"
        : "none of the certificates has this certificate's key as its public key (was it issued for another CSR?)",
    );
  }
  const warnings: string[] = [];
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku || !eku.usages.some((usage) => usage === x509.ExtendedKeyUsage.codeSigning || usage === '1.3.6.1.5.5.7.3.3')) {
    warnings.push(NO_CODE_SIGNING_EKU);
  }
  const chain = certs.filter((cert) => cert !== leaf).map((cert) => normalizePem(cert.toString('pem')));
  return { certificatePem: normalizePem(leaf.toString('pem')), chainPem: chain.length ? chain.join('') : null, warnings };
}

// ---------------------------------------------------------------------------------------------
// Import

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function parsePemCertificates(certificatePem: string): x509.X509Certificate[] {
  if (typeof certificatePem !== 'string') throw new Error('the certificate must be PEM text');
  const blocks = certificatePem.match(PEM_CERT_RE);
  if (!blocks || blocks.length === 0) {
    throw new Error('no certificate found: expected PEM text starting with -----BEGIN CERTIFICATE-----');
  }
  return blocks.map((block) => parseCertificate(block));
}

function parseCertificate(data: string | Uint8Array): x509.X509Certificate {
  try {
    return new x509.X509Certificate(typeof data === 'string' ? data : toArrayBuffer(data));
  } catch {
    throw new Error('the certificate could not be parsed (not a valid X.509 certificate)');
  }
}

function loadPemPrivateKey(privateKeyPem: string, passphrase?: string): KeyObject {
  if (typeof privateKeyPem !== 'string' || !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(privateKeyPem)) {
    throw new Error('no private key found: expected PEM text starting with -----BEGIN PRIVATE KEY----- (or RSA/EC/ENCRYPTED PRIVATE KEY)');
  }
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(privateKeyPem) || /Proc-Type:\s*4,ENCRYPTED/.test(privateKeyPem);
  const pass = passphrase === undefined || passphrase === '' ? undefined : passphrase;
  if (encrypted && pass === undefined) {
    throw new Error('the private key is encrypted: a passphrase is required');
  }
  try {
    return createPrivateKey({ key: privateKeyPem, format: 'pem', ...(encrypted ? { passphrase: pass } : {}) });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MISSING_PASSPHRASE') {
      throw new Error('the private key is encrypted: a passphrase is required');
    }
    if (encrypted) throw new Error('cannot decrypt the private key: wrong passphrase or unsupported encryption');
    throw new Error('the private key could not be parsed (expected PEM PKCS#8, PKCS#1 RSA or SEC1 EC key)');
  }
}

function loadDerPrivateKey(pkcs8Der: Uint8Array): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(pkcs8Der), format: 'der', type: 'pkcs8' });
  } catch {
    throw new Error('the private key could not be parsed (unsupported or corrupt PKCS#8 key)');
  }
}

/** Accept RSA (2048–16384 bits) and ECDSA P-256 only. */
function assertSupportedKey(key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) throw new Error(`unsupported key: RSA keys must have at least 2048 bits (this one has ${bits})`);
    if (bits > 16384) throw new Error(`unsupported key: RSA key of ${bits} bits is too large`);
    return;
  }
  if (type === 'ec') {
    if (details.namedCurve === 'prime256v1') return;
    throw new Error(`unsupported key: ECDSA curve ${details.namedCurve ?? 'unknown'} (only P-256 is supported)`);
  }
  throw new Error(`unsupported key algorithm: ${type ?? 'unknown'} (RSA or ECDSA P-256 expected)`);
}

function certificatePublicKey(cert: x509.X509Certificate): KeyObject | null {
  try {
    return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
  } catch {
    return null;
  }
}

/**
 * Same public key? Compares node's canonical SPKI encodings. (KeyObject.equals is avoided: for
 * keys of different types OpenSSL leaves an error on its queue that a later, unrelated
 * createPrivateKey call then reports.)
 */
function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  if (a.asymmetricKeyType !== b.asymmetricKeyType) return false;
  const spki = (key: KeyObject) =>
    (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return spki(a).equals(spki(b));
}

/** Pick the certificate whose public key is the key's; build the material. */
function pairKeyWithCertificate(certs: x509.X509Certificate[], key: KeyObject): CertificateMaterial {
  assertSupportedKey(key);
  const cert = certs.find((candidate) => {
    const certKey = certificatePublicKey(candidate);
    return certKey !== null && samePublicKey(certKey, key);
  });
  if (!cert) throw new Error("the private key does not match the certificate's public key");
  return {
    certificatePem: normalizePem(cert.toString('pem')),
    privateKeyPkcs8: key.export({ type: 'pkcs8', format: 'der' }),
  };
}

export async function importPem(certificatePem: string, privateKeyPem: string, passphrase?: string): Promise<CertificateMaterial> {
  const certs = parsePemCertificates(certificatePem);
  const key = loadPemPrivateKey(privateKeyPem, passphrase);
  return pairKeyWithCertificate(certs, key);
}

const OID_PBES2 = '1.2.840.113549.1.5.13';
const OID_BAG_KEY = '1.2.840.113549.1.12.10.1.1';
const OID_BAG_SHROUDED_KEY = '1.2.840.113549.1.12.10.1.2';
const OID_BAG_CERT = '1.2.840.113549.1.12.10.1.3';
const OID_CERT_X509 = '1.2.840.113549.1.9.22.1';

const LEGACY_PBE = 'legacy PKCS#12 encryption is not supported; re-export it with OpenSSL 3 defaults (AES-256-CBC, PBKDF2)';

/** Password-encrypted contents wrapped in EncryptedData must use PBES2 (what pkijs decrypts). */
function assertPbes2(algorithmId: string): void {
  if (algorithmId !== OID_PBES2) throw new Error(`${LEGACY_PBE} (algorithm ${algorithmId})`);
}

export async function importPkcs12(pfx: Buffer, password: string): Promise<CertificateMaterial> {
  if (!(pfx instanceof Uint8Array)) throw new Error('the PKCS#12 file must be binary data');
  if (pfx.length === 0) throw new Error('the PKCS#12 file is empty');
  if (typeof password !== 'string') throw new Error('a PKCS#12 password is required');
  const passwordBytes = toArrayBuffer(Buffer.from(password, 'utf8'));

  let parsed: pkijs.PFX;
  try {
    parsed = pkijs.PFX.fromBER(toArrayBuffer(pfx));
  } catch {
    throw new Error('not a PKCS#12 (PFX) file, or it is corrupt');
  }
  if (parsed.authSafe.contentType !== pkijs.ContentInfo.DATA) {
    throw new Error('unsupported PKCS#12 file: only password integrity mode is supported');
  }

  // Integrity: the MAC is keyed by the password, so a wrong password fails here.
  const hasMac = parsed.macData !== undefined;
  try {
    await parsed.parseInternalValues({ password: passwordBytes, checkIntegrity: hasMac }, pkiEngine);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/integrity/i.test(message)) throw new Error('wrong password for the PKCS#12 file (integrity check failed)');
    const macAlgorithm = parsed.macData?.mac.digestAlgorithm.algorithmId;
    throw new Error(`unsupported PKCS#12 integrity protection${macAlgorithm ? ` (${macAlgorithm})` : ''}: ${message}`);
  }
  const authenticatedSafe = parsed.parsedValue?.authenticatedSafe;
  if (!authenticatedSafe) throw new Error('the PKCS#12 file has no contents');

  for (const content of authenticatedSafe.safeContents) {
    if (content.contentType === pkijs.ContentInfo.ENCRYPTED_DATA) {
      const encrypted = pkijs.EncryptedData.fromBER((content.content as asn1js.Sequence).toBER(false));
      assertPbes2(encrypted.encryptedContentInfo.contentEncryptionAlgorithm.algorithmId);
    } else if (content.contentType !== pkijs.ContentInfo.DATA) {
      throw new Error('unsupported PKCS#12 file: public-key (enveloped) privacy mode is not supported');
    }
  }
  try {
    await authenticatedSafe.parseInternalValues(
      { safeContents: authenticatedSafe.safeContents.map(() => ({ password: passwordBytes })) },
      pkiEngine,
    );
  } catch {
    throw new Error(
      hasMac
        ? 'cannot decrypt the PKCS#12 contents (wrong password for the encrypted contents?)'
        : 'wrong password for the PKCS#12 file (cannot decrypt its contents)',
    );
  }

  const certs: x509.X509Certificate[] = [];
  const keys: KeyObject[] = [];
  const safeContentsList = (authenticatedSafe.parsedValue?.safeContents ?? []) as Array<{ value: pkijs.SafeContents }>;
  for (const { value } of safeContentsList) {
    for (const bag of value.safeBags) {
      switch (bag.bagId) {
        case OID_BAG_CERT: {
          const certBag = bag.bagValue as pkijs.CertBag;
          if (certBag.certId === OID_CERT_X509 && certBag.certValue instanceof asn1js.OctetString) {
            certs.push(parseCertificate(certBag.certValue.valueBlock.valueHexView));
          }
          break;
        }
        case OID_BAG_SHROUDED_KEY: {
          const keyBag = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
          assertPbes2(keyBag.encryptionAlgorithm.algorithmId);
          try {
            // parseInternalValues is declared protected in the typings; it decrypts with the password.
            await (keyBag as unknown as {
              parseInternalValues(p: { password: ArrayBuffer }, c: pkijs.ICryptoEngine): Promise<void>;
            }).parseInternalValues({ password: passwordBytes }, pkiEngine);
          } catch {
            throw new Error('wrong password for the PKCS#12 private key (cannot decrypt it)');
          }
          if (!keyBag.parsedValue) throw new Error('the PKCS#12 private key could not be decrypted');
          keys.push(loadDerPrivateKey(new Uint8Array(keyBag.parsedValue.toSchema().toBER(false))));
          break;
        }
        case OID_BAG_KEY: {
          const plainKey = bag.bagValue as pkijs.KeyBag;
          keys.push(loadDerPrivateKey(new Uint8Array(plainKey.toSchema().toBER(false))));
          break;
        }
        default:
          break; // CRLs, secrets, nested safe contents: not needed
      }
    }
  }
  if (certs.length === 0) throw new Error('the PKCS#12 file contains no certificate');
  if (keys.length === 0) throw new Error('the PKCS#12 file contains no private key');
  if (keys.length > 1) throw new Error('the PKCS#12 file contains several private keys; export exactly one');
  return pairKeyWithCertificate(certs, keys[0]!);
}

// ---------------------------------------------------------------------------------------------
// Description

function keyAlgorithmLabel(cert: x509.X509Certificate): string {
  const key = certificatePublicKey(cert);
  if (key) {
    const details = key.asymmetricKeyDetails ?? {};
    if (key.asymmetricKeyType === 'rsa' && details.modulusLength) return `RSA-${details.modulusLength}`;
    if (key.asymmetricKeyType === 'ec') {
      return details.namedCurve === 'prime256v1' ? 'ECDSA-P256' : `ECDSA-${details.namedCurve ?? 'unknown'}`;
    }
    if (key.asymmetricKeyType) return key.asymmetricKeyType.toUpperCase();
  }
  return cert.publicKey.algorithm.name;
}

function isSelfSigned(cert: x509.X509Certificate): boolean {
  if (!Buffer.from(cert.subjectName.toArrayBuffer()).equals(Buffer.from(cert.issuerName.toArrayBuffer()))) return false;
  try {
    const nodeCert = new NodeX509Certificate(Buffer.from(cert.rawData));
    return nodeCert.verify(nodeCert.publicKey);
  } catch {
    return false;
  }
}

function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

export function describeCertificate(certificatePem: string): CertificateDetails {
  const cert = parsePemCertificates(certificatePem)[0]!;
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber.toUpperCase(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    fingerprintSha256: colonHex(createHash('sha256').update(Buffer.from(cert.rawData)).digest()),
    algorithm: keyAlgorithmLabel(cert),
    selfSigned: isSelfSigned(cert),
  };
}

export function certificateProblem(
  details: { notBefore: string | null; notAfter: string | null; awaitingCertificate?: boolean },
  now: Date = new Date(),
): string | null {
  if (details.awaitingCertificate || details.notBefore === null || details.notAfter === null) {
    return 'it is awaiting its certificate from the CA (import the issued certificate first)';
  }
  const notBefore = new Date(details.notBefore);
  const notAfter = new Date(details.notAfter);
  if (now.getTime() > notAfter.getTime()) return `the certificate expired on ${notAfter.toISOString()}`;
  if (now.getTime() < notBefore.getTime()) return `the certificate is not valid before ${notBefore.toISOString()}`;
  return null;
}
