// Version 1. Earlier versions of Signet kept a set of session hashes per user (`user:{id}:sessions`), added at
// sign-in and removed at sign-out. Sessions expire by their own TTL, so these sets only grew; nothing
// reads them any more. This deletes them. Nodes of the previous version can keep running while it
// applies: they never read these sets either.
import type { Migration } from './migration.js';

export const dropUserSessionIndex: Migration = {
  version: 1,
  name: 'drop the per-user session index (user:{id}:sessions)',
  async up({ redis, keys }) {
    const pattern = `${keys.prefix}user:*:sessions`;
    // Only keys of exactly this shape (a user id has no colon): with an empty prefix, the keys of
    // an installation whose prefix starts with "user:" match the pattern too and must stay.
    const shape = new RegExp(`^${escape(keys.prefix)}user:[^:]+:sessions$`);
    let removed = 0;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'set');
      cursor = next;
      const ours = found.filter((key) => shape.test(key));
      if (ours.length) removed += await redis.del(...ours);
    } while (cursor !== '0');
    return removed;
  },
};

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
