// The audit log as its readers see it: a page of an organization's entries, the chain verified, and
// the current signed checkpoint, the entries after a sequence number (the REST export), and the
// CLI's sealing of what it wrote. The chain itself is written only by the commit script and sealed
// by the sealer (chain.ts, sealer.ts); these are its reads over the store, so commands, the CLI and
// the REST export name no Redis key.
import type { KeyObject } from 'node:crypto';
import type { AuditEntry } from '../../src/lib/shared/entities.js';
import type { Store } from '../store/store.js';
import { parseStoredEntry, queryAudit, type AuditFilter } from './query.js';
import { currentCheckpoint, sealAuditChain, verifyAuditChain, type KnownCheckpoint } from './chain.js';
import type { AuditSigningKey } from './signingKey.js';

export function auditLog({ redis, keys }: Pick<Store, 'redis' | 'keys'>) {
  return {
    page: (orgId: string, filter: AuditFilter, before: number | undefined, limit: number) => queryAudit(redis, keys, orgId, filter, before, limit),
    verify: (publicKey: KeyObject, orgId: string, known: KnownCheckpoint[] = []) => verifyAuditChain(redis, keys, publicKey, orgId, known),
    /** Up to `limit` of the organization's entries after sequence number `after`, oldest first (the REST export). */
    async after(orgId: string, after: number, limit: number): Promise<AuditEntry[]> {
      const rows = await redis.zrangebyscore(keys.audit(orgId), `(${after}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
      const entries: AuditEntry[] = [];
      for (let i = 0; i < rows.length; i += 2) entries.push(parseStoredEntry(rows[i]!, Number(rows[i + 1])));
      return entries;
    },
    /** Seals every organization's entries written since its last seal (the CLI's, when no server is running). */
    async sealPending(signingKey: AuditSigningKey, publicUrl: string): Promise<void> {
      for (const orgId of await redis.smembers(keys.auditUnsealed)) await sealAuditChain(redis, keys, signingKey, orgId, publicUrl);
    },
    checkpoint: (signingKey: AuditSigningKey, publicUrl: string, orgId: string) => currentCheckpoint(redis, keys, signingKey, publicUrl, orgId),
  };
}

export type AuditLog = ReturnType<typeof auditLog>;
