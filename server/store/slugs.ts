// Slug indexes (a hash slug → id within a scope: an organization's projects, a project's policies):
// a slug names one record, so a create or a rename commits only while its slug is still free.
import type { Precondition, WriteOp } from './commit.js';

/** A new record's slug: free when the record is created. */
export function slugClaim(indexKey: string, slug: string, id: string): { expect: Precondition[]; ops: WriteOp[] } {
  return { expect: [{ key: indexKey, field: slug, equals: null }], ops: [['hset', indexKey, slug, id]] };
}

/** A record renamed from one slug to another: the new one must still be free when the change commits. */
export function slugChange(indexKey: string, id: string, from: string, to: string): { expect: Precondition[]; ops: WriteOp[] } {
  if (from === to) return { expect: [], ops: [] };
  return {
    expect: [{ key: indexKey, field: to, equals: null }],
    ops: [
      ['hdel', indexKey, from],
      ['hset', indexKey, to, id],
    ],
  };
}
