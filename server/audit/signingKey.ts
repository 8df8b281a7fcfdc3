// The instance's audit key: it signs the chain's heads as checkpoint notes (./checkpointNote.ts).
import { createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';

export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** The instance's Ed25519 audit key, derived from the master key so every node holds the same one. */
export function deriveAuditSigningKey(masterKey: Buffer): AuditSigningKey {
  return ed25519KeyFromSeed(Buffer.from(hkdfSync('sha256', masterKey, 'signet', 'audit-chain-signing-key', 32)));
}

/** An Ed25519 key pair from its 32-byte RFC 8032 seed. */
export function ed25519KeyFromSeed(seed: Buffer): AuditSigningKey {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
