// Private keys at rest: AES-256-GCM under a data key derived (HKDF-SHA256) from the configured
// 32-byte master key. The caller's context (e.g. the certificate id) is bound as additional
// authenticated data, so a sealed key copied onto another certificate refuses to open.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SealedKey {
  alg: 'A256GCM';
  /** base64, 12 bytes */
  iv: string;
  /** base64, 16-byte GCM authentication tag */
  tag: string;
  /** base64 */
  ciphertext: string;
}

const HKDF_INFO = 'signet-private-keys';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function dataKey(masterKey: Buffer): Buffer {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== 32) {
    throw new Error('the key-vault master key must be exactly 32 bytes');
  }
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), HKDF_INFO, 32));
}

function aad(context: string): Buffer {
  if (typeof context !== 'string' || context.length === 0) {
    throw new Error('a non-empty key-vault context (e.g. the certificate id) is required');
  }
  return Buffer.from(`signet-private-key:${context}`, 'utf8');
}

export function sealPrivateKey(masterKey: Buffer, pkcs8Der: Buffer, context: string): SealedKey {
  if (!Buffer.isBuffer(pkcs8Der) || pkcs8Der.length === 0) throw new Error('nothing to seal: the private key is empty');
  const key = dataKey(masterKey);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(context));
  const ciphertext = Buffer.concat([cipher.update(pkcs8Der), cipher.final()]);
  return {
    alg: 'A256GCM',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

export function openPrivateKey(masterKey: Buffer, sealed: SealedKey, context: string): Buffer {
  if (!sealed || sealed.alg !== 'A256GCM') {
    throw new Error(`unsupported sealed-key algorithm: ${String(sealed?.alg)}`);
  }
  const iv = Buffer.from(sealed.iv ?? '', 'base64');
  const tag = Buffer.from(sealed.tag ?? '', 'base64');
  const ciphertext = Buffer.from(sealed.ciphertext ?? '', 'base64');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES || ciphertext.length === 0) {
    throw new Error('the sealed private key is malformed');
  }
  const key = dataKey(masterKey);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(context));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new Error(
      'cannot decrypt the private key: wrong master key, wrong context (key belongs to another certificate) or tampered data',
    );
  }
}
