// A new certificate key in the custody the admin chose: generated in software and sealed under the
// master key at once, or generated inside the PKCS#11 token, which keeps it. Either way the caller
// gets the public key and a signer to certify it with, and what the record is to keep.
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import type { KeyCustody } from '../../../src/lib/shared/entities.js';
import type { Config } from '../../config.js';
import type { CertificateRecord } from '../../store/records.js';
import { sealPrivateKey } from '../../store/keyVault.js';
import { requireToken, softwareSigner, tokenSigner, type KeySigner } from './signer.js';
import { withToken, type TokenKeyAlgorithm } from './token.js';

export interface NewKey {
  custody: KeyCustody;
  publicKey: KeyObject;
  signer: KeySigner;
  /** What the certificate record keeps: the sealed key, or the key's handle in the token. */
  stored: Pick<CertificateRecord, 'sealedPrivateKey' | 'tokenKey'>;
  /** Removes a token key whose certificate was not stored after all (nothing to do in software). */
  discard(): Promise<void>;
}

/** A software key pair; the private key as unencrypted PKCS#8 DER. */
function softwareKeyPair(algorithm: TokenKeyAlgorithm): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, _publicKey: KeyObject, privateKey: KeyObject) =>
      error ? reject(error) : resolve(privateKey.export({ type: 'pkcs8', format: 'der' }));
    if (algorithm === 'ECDSA-P256') generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
    else generateKeyPair('rsa', { modulusLength: Number(algorithm.slice(4)), publicExponent: 0x10001 }, done);
  });
}

/** Generates the key of certificate `certificateId` (software keys are sealed bound to that id). */
export async function generateCertificateKey(config: Config, custody: KeyCustody, algorithm: TokenKeyAlgorithm, certificateId: string): Promise<NewKey> {
  if (custody === 'pkcs11') {
    const tokenConfig = requireToken(config);
    return withToken(tokenConfig, async (token) => {
      const generated = await token.generateKeyPair(algorithm, `signet-${certificateId}`);
      return {
        custody,
        publicKey: generated.publicKey,
        signer: tokenSigner(tokenConfig, token, generated.handle),
        stored: { tokenKey: generated.handle },
        discard: async () => withToken(tokenConfig, (current) => current.destroyKey(generated.handle)),
      };
    });
  }
  const pkcs8 = await softwareKeyPair(algorithm);
  const sealed = sealPrivateKey(config.masterKey, pkcs8, certificateId);
  const publicKey = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  return { custody, publicKey, signer: softwareSigner(pkcs8), stored: { sealedPrivateKey: sealed }, discard: async () => {} };
}
