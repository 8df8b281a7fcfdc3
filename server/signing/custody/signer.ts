// A certificate's private key, wherever it is kept: software custody (sealed in Redis under the
// master key) or a PKCS#11 token. Signature formats sign through this and never see key material
// of a token-held key; a software key is opened only for the signature and wiped afterwards.
import { createHash, createPrivateKey, sign as signWithKey } from 'node:crypto';
import type { Config, Pkcs11Config } from '../../config.js';
import type { CertificateRecord } from '../../store/records.js';
import { openPrivateKey } from '../../store/keyVault.js';
import { TokenError, withToken, type Token } from './token.js';
import type { TokenKeyHandle } from '../../store/records.js';

export type SignerKeyType = 'rsa' | 'ec';

export interface KeySigner {
  /** rsa: RSASSA-PKCS1-v1_5; ec: ECDSA P-256 with a DER-encoded (r, s) signature. */
  keyType: SignerKeyType;
  /** Signs SHA-256(data). */
  sign(data: Buffer): Promise<Buffer>;
  /**
   * For tools that reach the token themselves (osslsigncode -pkcs11module … -key URI). Absent for
   * software keys. Child processes inherit the module's environment (SOFTHSM2_CONF), set when it loaded.
   */
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

/** A signer over a key in the token: the token signs the SHA-256 digest; nothing of the key is read. */
export function tokenSigner(config: Pkcs11Config, token: Token, handle: TokenKeyHandle): KeySigner {
  const { keyType } = token.describeKey(handle);
  return {
    keyType,
    sign: (data) => withToken(config, (current) => current.signDigest(handle, keyType, createHash('sha256').update(data).digest())),
    pkcs11: { modulePath: config.modulePath, uri: token.uri(handle), pin: config.pin },
    close() {},
  };
}

/** The configured token, or a clear refusal when this installation has none. */
export function requireToken(config: Config): Pkcs11Config {
  if (!config.pkcs11) {
    throw new TokenError('no PKCS#11 token is available: set SIGNET_PKCS11_MODULE, or install softhsm2 for the embedded token');
  }
  return config.pkcs11;
}

/** Opens the signer of a certificate's key, wherever it is kept. */
export async function openSigner(config: Config, certificate: CertificateRecord): Promise<KeySigner> {
  if (certificate.custody === 'pkcs11') {
    const handle = certificate.tokenKey;
    if (!handle) throw new Error(`certificate ${certificate.id} is token-held but has no key handle`);
    const token = requireToken(config);
    return withToken(token, (opened) => tokenSigner(token, opened, handle));
  }
  if (!certificate.sealedPrivateKey) throw new Error(`certificate ${certificate.id} has no sealed private key`);
  return softwareSigner(openPrivateKey(config.masterKey, certificate.sealedPrivateKey, certificate.id));
}
