// What a certificate whose key Signet makes (generated, or requested from a CA) starts as, and how
// those fields are sent.
import type { CERTIFICATE_ALGORITHMS, KeyCustody } from '$lib/shared/entities';

export interface NewKey {
  name: string;
  slug: string;
  type: 'test' | 'release';
  custody: KeyCustody;
  algorithm: (typeof CERTIFICATE_ALGORITHMS)[number];
}

/** The fields of a new key, each shown with its own issue. */
export const NEW_KEY_FIELDS = ['name', 'slug', 'type', 'custody', 'algorithm'];

/** A new key: made in the token, ECDSA P-256 (the commands' default algorithm). */
export const newKey = (type: NewKey['type']): NewKey => ({ name: '', slug: '', type, custody: 'pkcs11', algorithm: 'ECDSA-P256' });

export const newKeyInput = (key: NewKey): NewKey => ({
  name: key.name.trim(),
  slug: key.slug.trim(),
  type: key.type,
  custody: key.custody,
  algorithm: key.algorithm,
});
