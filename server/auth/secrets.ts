// Passwords (argon2id), random tokens, and the hashes under which tokens are stored.
import argon2 from 'argon2';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** A hash to compare against when the account does not exist, so timing does not tell. */
let dummyHash: Promise<string> | null = null;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function randomId(): string {
  return randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
}

/** Tokens are high-entropy, so a plain SHA-256 is enough to store them without keeping the secret. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

export const API_KEY_PREFIX = 'sgn_';

export function newApiKeySecret(keyId: string): { token: string; secretHash: string } {
  const secret = randomToken(32);
  return { token: `${API_KEY_PREFIX}${keyId}_${secret}`, secretHash: tokenHash(secret) };
}

export function parseApiKeyToken(token: string): { keyId: string; secret: string } | null {
  const match = /^sgn_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/.exec(token);
  return match ? { keyId: match[1]!, secret: match[2]! } : null;
}
