// Detached CMS (PKCS#7) signatures over a pre-computed SHA-256 of the artifact, so large
// artifacts are hashed once while streaming and never loaded into memory. The result verifies
// with `openssl cms -verify -binary -inform DER -in sig -content artifact -CAfile cert.pem`.
// The key is reached only through a KeySigner, so this works for every custody.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { KeySigner } from './custody/signer.js';
import { attribute, buildSignedData, OID, timeValue } from './formats/signedData.js';

export interface SignDetachedOptions {
  certificatePem: string;
  chainPems?: string[];
  signer: KeySigner;
  /** SHA-256 of the artifact (32 bytes) */
  contentSha256: Buffer;
  signingTime?: Date;
  /** Given the signature value, an RFC 3161 token to carry as id-aa-timeStampToken (or null for none). */
  timestamp?: (signatureValue: Buffer) => Promise<Buffer | null>;
}

export async function signDetached(options: SignDetachedOptions): Promise<Buffer> {
  const signingTime = options.signingTime ?? new Date();
  if (Number.isNaN(signingTime.getTime())) throw new Error('signingTime is not a valid date');
  return buildSignedData({
    certificatePem: options.certificatePem,
    chainPems: options.chainPems,
    signer: options.signer,
    contentType: OID.data, // detached: no eContent
    digest: options.contentSha256,
    attributes: [attribute(OID.signingTime, timeValue(signingTime))],
    timestamp: options.timestamp,
    timestampAttribute: OID.cmsTimestampToken,
  });
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest();
}
