// OpenPGP detached signatures with openpgp.js. Each certificate gets its own OpenPGP key (Ed25519,
// made by Signet): an X.509 key cannot simply be reused, since an OpenPGP key carries its own
// self-signatures and fingerprint. The secret key is sealed like private keys (AES-256-GCM under
// the master key, bound to `<certificate id>:openpgp`); the armored public key is public record.
// New certificates get the key when they are made; older ones on their first OpenPGP signature.
import * as openpgp from 'openpgp';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { AuditActor } from '../../../src/lib/shared/entities.js';
import type { Config } from '../../config.js';
import type { Signet } from '../../signet.js';
import type { CertificateRecord } from '../../store/records.js';
import { CommandFailure } from '../../errors.js';
import { openPrivateKey, sealPrivateKey } from '../../store/keyVault.js';
import { systemActing } from '../lifecycle.js';

export type OpenpgpKeyFields = Required<Pick<CertificateRecord, 'sealedOpenpgpKey' | 'openpgpPublicKey' | 'openpgpFingerprint'>>;

const context = (certificateId: string) => `${certificateId}:openpgp`;

/** A new OpenPGP key for a certificate, sealed; its user ID is the certificate's name. */
export async function newOpenpgpKey(config: Pick<Config, 'masterKey'>, certificateId: string, name: string): Promise<OpenpgpKeyFields> {
  const generated = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: name.slice(0, 100) }], format: 'object' });
  const secret = Buffer.from(generated.privateKey.write());
  try {
    return {
      sealedOpenpgpKey: sealPrivateKey(config.masterKey, secret, context(certificateId)),
      openpgpPublicKey: generated.publicKey.armor(),
      openpgpFingerprint: generated.publicKey.getFingerprint().toUpperCase(),
    };
  } finally {
    secret.fill(0);
  }
}

const WORKER: AuditActor = { type: 'system', id: 'signing-worker', name: 'Signing worker' };

/** The certificate with an OpenPGP key, adding one (in one commit, audited) if it has none yet. */
export async function ensureOpenpgpKey(signet: Signet, certificate: Pick<CertificateRecord, 'orgId' | 'id'>): Promise<CertificateRecord> {
  const certificateId = certificate.id;
  for (let attempt = 0; ; attempt++) {
    const stored = await signet.store.certificates.get(certificate.orgId, certificateId);
    if (!stored) throw new Error('the certificate was deleted');
    if (stored.value.sealedOpenpgpKey) return stored.value;
    const updated: CertificateRecord = { ...stored.value, ...(await newOpenpgpKey(signet.config, certificateId, stored.value.name)), version: stored.value.version + 1 };
    const worker = systemActing(signet, updated.orgId, WORKER, 'certificate.openpgpKey');
    try {
      await worker.commit({
        target: { type: 'certificate', id: updated.id, name: updated.name },
        changes: { openpgpFingerprint: { before: null, after: updated.openpgpFingerprint } },
        ...signet.store.certificates.update(stored, updated),
      });
      return updated;
    } catch (error) {
      // Another worker (or an edit) changed the certificate meanwhile: read it again.
      if (!(error instanceof CommandFailure && error.concurrentChange) || attempt >= 3) throw error;
    }
  }
}

/** An ASCII-armored detached signature of the file, streamed through openpgp.js. */
export async function signOpenpgpDetached(config: Pick<Config, 'masterKey'>, certificate: CertificateRecord, file: string): Promise<Buffer> {
  if (!certificate.sealedOpenpgpKey) throw new Error('the certificate has no OpenPGP key');
  const secret = openPrivateKey(config.masterKey, certificate.sealedOpenpgpKey, context(certificate.id));
  let signingKey: openpgp.PrivateKey;
  try {
    signingKey = await openpgp.readPrivateKey({ binaryKey: new Uint8Array(secret) });
  } finally {
    secret.fill(0);
  }
  const message = await openpgp.createMessage({ binary: Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array> });
  const signature = await openpgp.sign({ message, signingKeys: signingKey, detached: true, format: 'armored' });
  let armored = '';
  for await (const chunk of signature as unknown as AsyncIterable<string>) armored += chunk;
  return Buffer.from(armored, 'utf8');
}
