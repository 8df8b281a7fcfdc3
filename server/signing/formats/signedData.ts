// A PKCS#7 / CMS SignedData with one signer, signed through a KeySigner: the signed attributes are
// built here, their DER is handed to the signer (software or token custody alike), and the result
// is checked against the certificate's public key before anything is written. Detached CMS and
// Authenticode both come out of this; they differ in content type, content and attributes.
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { verify as verifySignature, X509Certificate } from 'node:crypto';
import type { KeySigner } from '../custody/signer.js';

export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  /** RFC 3161 appendix A: the token over the signature value, as a CMS unsigned attribute. */
  cmsTimestampToken: '1.2.840.113549.1.9.16.2.14',
  /** Authenticode's place for the same RFC 3161 token (szOID_RFC3161_counterSign). */
  authenticodeTimestampToken: '1.3.6.1.4.1.311.3.3.1',
} as const;

export interface SignerIdentity {
  certificatePem: string;
  /** Further certificates to carry (a CA-issued certificate's chain). */
  chainPems?: string[];
}

export interface SignedDataInput extends SignerIdentity {
  signer: KeySigner;
  contentType: string;
  /** The encapsulated content (Authenticode: the SpcIndirectDataContent); absent for a detached signature. */
  content?: asn1js.AsnType;
  /** The messageDigest attribute: SHA-256 of what is signed (32 bytes). */
  digest: Buffer;
  attributes?: pkijs.Attribute[];
  /** Given the signature value, returns an RFC 3161 TimeStampToken (DER) to carry, or null for none. */
  timestamp?: (signatureValue: Buffer) => Promise<Buffer | null>;
  timestampAttribute?: string;
}

/** RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds. */
export function timeValue(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const valueDate = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const year = valueDate.getUTCFullYear();
  return year >= 1950 && year < 2050 ? new asn1js.UTCTime({ valueDate }) : new asn1js.GeneralizedTime({ valueDate });
}

export function attribute(type: string, value: asn1js.AsnType): pkijs.Attribute {
  return new pkijs.Attribute({ type, values: [value] });
}

function der(value: { toBER(sizeOnly?: boolean): ArrayBuffer }): Buffer {
  return Buffer.from(value.toBER(false));
}

/** Parses DER, insisting that nothing is left over. */
export function parseDer(data: Uint8Array, what: string): asn1js.AsnType {
  // A copy: a small Buffer may be a view into a shared pool, which asn1js would read whole.
  const parsed = asn1js.fromBER(Uint8Array.from(data));
  if (parsed.offset === -1 || parsed.offset !== data.byteLength) throw new Error(`${what} is not valid DER`);
  return parsed.result;
}

/** The bytes inside a DER value's tag and length (Authenticode digests a SEQUENCE's contents only). */
export function derContents(encoded: Buffer): Buffer {
  if (encoded.length < 2) throw new Error('truncated DER value');
  const first = encoded[1]!;
  if (first < 0x80) return encoded.subarray(2, 2 + first);
  const lengthBytes = first & 0x7f;
  if (lengthBytes === 0 || lengthBytes > 4) throw new Error('unsupported DER length');
  const length = encoded.readUIntBE(2, lengthBytes);
  return encoded.subarray(2 + lengthBytes, 2 + lengthBytes + length);
}

/** The exact bytes a parsed value was decoded from. */
export function originalBytes(value: asn1js.AsnType): Buffer {
  const view = (value as unknown as { valueBeforeDecodeView?: Uint8Array }).valueBeforeDecodeView;
  return view && view.byteLength ? Buffer.from(view) : der(value);
}

function parseCertificate(pem: string): { node: X509Certificate; pkijs: pkijs.Certificate } {
  let node: X509Certificate;
  try {
    node = new X509Certificate(pem);
  } catch {
    throw new Error('the signing certificate could not be parsed');
  }
  return { node, pkijs: pkijs.Certificate.fromBER(new Uint8Array(node.raw)) };
}

/** Splits a PEM bundle into its certificates. */
export function splitPemCertificates(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export async function buildSignedData(input: SignedDataInput): Promise<Buffer> {
  if (!Buffer.isBuffer(input.digest) || input.digest.length !== 32) {
    throw new Error('contentSha256 must be the 32-byte SHA-256 digest of the artifact');
  }
  const certificate = parseCertificate(input.certificatePem);
  const keyType = certificate.node.publicKey.asymmetricKeyType;
  if (keyType !== input.signer.keyType) throw new Error('the signing key does not match the certificate');
  const attributes = [
    attribute(OID.contentType, new asn1js.ObjectIdentifier({ value: input.contentType })),
    attribute(OID.messageDigest, new asn1js.OctetString({ valueHex: new Uint8Array(input.digest) })),
    ...(input.attributes ?? []),
  ].sort((a, b) => Buffer.compare(der(a.toSchema()), der(b.toSchema()))); // DER: SET OF in encoding order

  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes });
  // The signature covers the attributes encoded as a SET (tag 0x31), not as the [0] they are stored under.
  const signedBytes = der(signedAttrs.toSchema());
  signedBytes[0] = 0x31;
  const signatureValue = await input.signer.sign(signedBytes);
  const verifyKey = keyType === 'ec' ? { key: certificate.node.publicKey, dsaEncoding: 'der' as const } : certificate.node.publicKey;
  if (!verifySignature('sha256', signedBytes, verifyKey, signatureValue)) throw new Error('the signing key does not match the certificate');

  const unsigned: pkijs.Attribute[] = [];
  const token = input.timestamp ? await input.timestamp(signatureValue) : null;
  if (token) unsigned.push(attribute(input.timestampAttribute ?? OID.cmsTimestampToken, parseDer(token, 'the timestamp token')));

  const sha256 = () => new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new asn1js.Null() });
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: certificate.pkijs.issuer, serialNumber: certificate.pkijs.serialNumber }),
    digestAlgorithm: sha256(),
    signedAttrs,
    signatureAlgorithm:
      keyType === 'rsa'
        ? new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256WithRsa, algorithmParams: new asn1js.Null() })
        : new pkijs.AlgorithmIdentifier({ algorithmId: OID.ecdsaWithSha256 }),
    signature: new asn1js.OctetString({ valueHex: new Uint8Array(signatureValue) }),
    ...(unsigned.length ? { unsignedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 1, attributes: unsigned }) } : {}),
  });
  const chain = (input.chainPems ?? []).map((pem) => parseCertificate(pem).pkijs);
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [sha256()],
    // pkijs types eContent as an OCTET STRING; Authenticode's is a SEQUENCE, which pkijs encodes as given.
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: input.contentType, ...(input.content ? { eContent: input.content as asn1js.OctetString } : {}) }),
    certificates: [certificate.pkijs, ...chain],
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) });
  return der(contentInfo.toSchema());
}

/** The first signer's signature value and unsigned attributes of a DER ContentInfo(SignedData), for checks and tests. */
export function readSignerInfo(contentInfoDer: Buffer): { signatureValue: Buffer; unsignedAttributes: Map<string, Buffer> } {
  const contentInfo = new pkijs.ContentInfo({ schema: parseDer(contentInfoDer, 'the signature') });
  const signedData = new pkijs.SignedData({ schema: contentInfo.content });
  const signerInfo = signedData.signerInfos[0];
  if (!signerInfo) throw new Error('the signature has no signer');
  const unsignedAttributes = new Map<string, Buffer>();
  for (const attr of signerInfo.unsignedAttrs?.attributes ?? []) unsignedAttributes.set(attr.type, der(attr.values[0]));
  return { signatureValue: Buffer.from(signerInfo.signature.valueBlock.valueHexView), unsignedAttributes };
}
