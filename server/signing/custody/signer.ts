// A certificate's private key, wherever it is kept: software custody (sealed in Redis under the
// master key) or a PKCS#11 token. Signature formats sign through this and never see key material
// of a token-held key; a software key is opened only for the signature and wiped afterwards.
import { createPrivateKey, sign as signWithKey } from 'node:crypto';
import type { Config } from '../../config.js';
import type { CertificateRecord } from '../../store/records.js';
import { openPrivateKey } from '../keyVault.js';

export type SignerKeyType = 'rsa' | 'ec';

export interface KeySigner {
  /** rsa: RSASSA-PKCS1-v1_5; ec: ECDSA P-256 with a DER-encoded (r, s) signature. */
  keyType: SignerKeyType;
  /** Signs SHA-256(data). */
  sign(data: Buffer): Promise<Buffer>;
  /** For tools that reach the token themselves (osslsigncode -pkcs11module … -key URI). Absent for software keys. */
  pkcs11?: { modulePath: string; uri: string; pin: string };
  /** Forgets what the signer holds (a software key's bytes are wiped). */
  close(): void;
}

/** A signer over an unencrypted PKCS#8 key held in memory; close() wipes the buffer. */
export function softwareSigner(pkcs8Der: Buffer): KeySigner {
  const key = createPrivateKey({ key: pkcs8Der, format: 'der', type: 'pkcs8' });
  const keyType = key.asymmetricKeyType;
  if (keyType !== 'rsa' && keyType !== 'ec') throw new Error(`unsupported signing key: ${keyType ?? 'unknown'} (RSA or ECDSA P-256 expected)`);
  return {
    keyType,
    async sign(data) {
      return signWithKey('sha256', data, keyType === 'ec' ? { key, dsaEncoding: 'der' } : key);
    },
    close() {
      pkcs8Der.fill(0);
    },
  };
}

/** Opens the signer of a certificate's key. */
export async function openSigner(config: Config, certificate: CertificateRecord): Promise<KeySigner> {
  return softwareSigner(openPrivateKey(config.masterKey, certificate.sealedPrivateKey, certificate.id));
}
