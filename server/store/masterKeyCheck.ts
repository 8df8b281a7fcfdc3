// Nodes (and CLI runs) sharing one Redis must hold the same master key: with another one, sealed
// private keys and webhook secrets do not open and the audit chain gets signed with a different key.
// Redis holds a check value, written by the first node: an HMAC of a fixed label under a key derived
// (HKDF) from the master key. It reveals nothing about the master key, and since that key is 32 random
// bytes there is nothing to guess cheaply from it either.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

const CHECK_LABEL = 'signet master key check';
const VERSION = 'v1';

export class MasterKeyMismatch extends Error {}

export function masterKeyCheckValue(masterKey: Buffer): string {
  const checkKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'signet-master-key-check', 32));
  return `${VERSION}:${createHmac('sha256', checkKey).update(CHECK_LABEL).digest('base64')}`;
}

function mismatch(keys: RedisKeys, why: string): MasterKeyMismatch {
  return new MasterKeyMismatch(
    `The master key (SIGNET_MASTER_KEY, or master.key in SIGNET_DATA_DIR when it is unset) is not the one ` +
      `the data in this Redis${keys.prefix ? ` (prefix "${keys.prefix}")` : ''} was written with: ${why}. ` +
      `Every node and CLI run of one installation needs the same master key; with another one, sealed private ` +
      `keys and webhook secrets cannot be opened and the audit chain would be signed with a different key. Refusing to start.`,
  );
}

/**
 * Records this key's check value when Redis has none (after `existingDataAgrees` found no data
 * written under another key), or compares it with the one recorded. Throws MasterKeyMismatch.
 */
export async function verifyMasterKey(
  redis: Redis,
  keys: RedisKeys,
  masterKey: Buffer,
  existingDataAgrees: () => Promise<boolean>,
): Promise<'recorded' | 'matched'> {
  const mine = masterKeyCheckValue(masterKey);
  let stored = await redis.get(keys.masterKeyCheck);
  if (stored === null) {
    // Data from before the check existed: the first node to look at it must not adopt a wrong key.
    if (!(await existingDataAgrees())) throw mismatch(keys, 'the signed audit chain head stored there does not verify with it');
    if ((await redis.set(keys.masterKeyCheck, mine, 'NX')) === 'OK') return 'recorded';
    stored = await redis.get(keys.masterKeyCheck);
  }
  if (stored === null || !sameText(stored, mine)) throw mismatch(keys, `${keys.masterKeyCheck} holds the check value of another key`);
  return 'matched';
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
