// Produces and verifies the signed audit checkpoints of src/lib/shared/checkpoint.ts: C2SP signed
// notes signed with the instance's Ed25519 audit key. No maintained npm package writes or opens C2SP
// notes (sigstore's libraries only read Rekor's own checkpoints internally), and the format is a
// few lines, so it is done here with node:crypto.
import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import {
  auditOriginPath,
  CheckpointFormatError,
  hexToBase64,
  parseCheckpointNote,
  type CheckpointNote,
} from '../../src/lib/shared/checkpoint.js';
import type { AuditSigningKey } from './signingKey.js';

/** The signature type byte the signed-note spec assigns to Ed25519. */
const ED25519 = 0x01;

export class CheckpointError extends Error {}

/** `<public host>/signet/audit/<orgId>`: the log's identity, and the name of the key that signs it. */
export function auditOrigin(publicUrl: string, orgId: string): string {
  return `${new URL(publicUrl).host}${auditOriginPath(orgId)}`;
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  return Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
}

/** key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4] (c2sp.org/signed-note). */
export function noteKeyId(keyName: string, publicKey: KeyObject): Buffer {
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${keyName}\n`), Buffer.from([ED25519]), rawPublicKey(publicKey)]))
    .digest()
    .subarray(0, 4);
}

/** The key in the verifier-key form other note tools take: `<name>+<key ID hex>+<base64(0x01 || key)>`. */
export function noteVerifierKey(keyName: string, publicKey: KeyObject): string {
  const key = Buffer.concat([Buffer.from([ED25519]), rawPublicKey(publicKey)]).toString('base64');
  return `${keyName}+${noteKeyId(keyName, publicKey).toString('hex')}+${key}`;
}

/** A signed note: `text` (ending in a newline), a blank line, and one Ed25519 signature line by `keyName`. */
export function signNote(text: string, keyName: string, key: AuditSigningKey): string {
  const signature = sign(null, Buffer.from(text), key.privateKey);
  return `${text}\n\u2014 ${keyName} ${Buffer.concat([noteKeyId(keyName, key.publicKey), signature]).toString('base64')}\n`;
}

/** Signs the checkpoint "the chain of `origin` has `size` entries and its head is `hashHex`", with the origin as key name. */
export function signCheckpoint(key: AuditSigningKey, origin: string, size: number, hashHex: string): string {
  return signNote(`${origin}\n${size}\n${hexToBase64(hashHex)}\n`, origin, key);
}

/**
 * Opens a checkpoint note of organization `orgId`: its form, its origin, and a valid signature by
 * this instance's key (signatures by other keys are ignored, as the spec says; a failing one by
 * this key rejects the note). Throws a CheckpointError that names the problem.
 */
export function openCheckpoint(note: string, publicKey: KeyObject, orgId: string): CheckpointNote {
  let parsed: CheckpointNote;
  try {
    parsed = parseCheckpointNote(note);
  } catch (error) {
    if (error instanceof CheckpointFormatError) throw new CheckpointError(error.message);
    throw error;
  }
  const path = auditOriginPath(orgId);
  if (!parsed.origin.endsWith(path) || parsed.origin.length === path.length) {
    throw new CheckpointError(`the checkpoint is for another log (${parsed.origin}), not organization ${orgId}`);
  }
  const keyId = noteKeyId(parsed.origin, publicKey);
  const ours = parsed.signatures.filter(({ keyName, signature }) => keyName === parsed.origin && Buffer.from(signature, 'base64').subarray(0, 4).equals(keyId));
  if (ours.length === 0) throw new CheckpointError("the checkpoint is not signed with this instance's audit key");
  for (const { signature } of ours) {
    if (!verify(null, Buffer.from(parsed.text), publicKey, Buffer.from(signature, 'base64').subarray(4))) {
      throw new CheckpointError("the checkpoint's signature is not valid: it was altered or not made by this instance");
    }
  }
  return parsed;
}
