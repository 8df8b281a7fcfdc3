// Detached CMS (PKCS#7) signatures over a pre-computed SHA-256 of the artifact, so large
// artifacts are hashed once while streaming and never loaded into memory. The result verifies
// with `openssl cms -verify -binary -inform DER -in sig -content artifact -CAfile cert.pem`.
import * as pkijs from 'pkijs';
import * as asn1js from 'asn1js';
import { createHash, createPrivateKey, createPublicKey, webcrypto, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Compares node's canonical SPKI encodings (KeyObject.equals can leave an OpenSSL error queued). */
function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  if (a.asymmetricKeyType !== b.asymmetricKeyType) return false;
  const spki = (key: KeyObject) =>
    (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return spki(a).equals(spki(b));
}

const crypto = webcrypto as unknown as Crypto;
const pkiEngine = new pkijs.CryptoEngine({ name: 'node', crypto });

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_ATTR_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_ATTR_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_ATTR_SIGNING_TIME = '1.2.840.113549.1.9.5';

export interface SignDetachedOptions {
  certificatePem: string;
  /** unencrypted PKCS#8 DER (RSA or ECDSA P-256) matching the certificate */
  privateKeyPkcs8: Buffer;
  /** SHA-256 of the artifact (32 bytes) */
  contentSha256: Buffer;
  signingTime?: Date;
}

/** RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds. */
function timeValue(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const valueDate = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const year = valueDate.getUTCFullYear();
  return year >= 1950 && year < 2050 ? new asn1js.UTCTime({ valueDate }) : new asn1js.GeneralizedTime({ valueDate });
}

function derOf(attribute: pkijs.Attribute): Buffer {
  return Buffer.from(attribute.toSchema().toBER(false));
}

export async function signDetached(options: SignDetachedOptions): Promise<Buffer> {
  const { certificatePem, privateKeyPkcs8, contentSha256 } = options;
  const signingTime = options.signingTime ?? new Date();
  if (!Buffer.isBuffer(contentSha256) || contentSha256.length !== 32) {
    throw new Error('contentSha256 must be the 32-byte SHA-256 digest of the artifact');
  }
  if (Number.isNaN(signingTime.getTime())) throw new Error('signingTime is not a valid date');

  let nodeCert: NodeX509Certificate;
  try {
    nodeCert = new NodeX509Certificate(certificatePem);
  } catch {
    throw new Error('the signing certificate could not be parsed');
  }
  let privateKey;
  try {
    privateKey = createPrivateKey({ key: privateKeyPkcs8, format: 'der', type: 'pkcs8' });
  } catch {
    throw new Error('the signing key could not be parsed (expected PKCS#8 DER)');
  }
  if (!samePublicKey(privateKey, nodeCert.publicKey)) {
    throw new Error('the signing key does not match the certificate');
  }
  let importParams: RsaHashedImportParams | EcKeyImportParams;
  if (privateKey.asymmetricKeyType === 'rsa') {
    importParams = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else if (privateKey.asymmetricKeyType === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    importParams = { name: 'ECDSA', namedCurve: 'P-256' };
  } else {
    throw new Error(`unsupported signing key: ${privateKey.asymmetricKeyType ?? 'unknown'} (RSA or ECDSA P-256 expected)`);
  }
  const signingKey = await crypto.subtle.importKey('pkcs8', new Uint8Array(privateKeyPkcs8), importParams, false, ['sign']);

  const certificate = pkijs.Certificate.fromBER(new Uint8Array(nodeCert.raw));
  const attributes = [
    new pkijs.Attribute({ type: OID_ATTR_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
    new pkijs.Attribute({ type: OID_ATTR_SIGNING_TIME, values: [timeValue(signingTime)] }),
    new pkijs.Attribute({
      type: OID_ATTR_MESSAGE_DIGEST,
      values: [new asn1js.OctetString({ valueHex: new Uint8Array(contentSha256) })],
    }),
  ].sort((a, b) => Buffer.compare(derOf(a), derOf(b))); // DER: SET OF in encoding order

  const signedData = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA }), // detached: no eContent
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: certificate.issuer, serialNumber: certificate.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
      }),
    ],
    certificates: [certificate],
  });
  // With signed attributes present pkijs signs their DER (SET) encoding, not the content.
  await signedData.sign(signingKey, 0, 'SHA-256', undefined, pkiEngine);

  const contentInfo = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signedData.toSchema(true) });
  return Buffer.from(contentInfo.toSchema().toBER(false));
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest();
}
