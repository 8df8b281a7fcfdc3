// The audit log as its readers see it: a page of an organization's entries, the chain verified, and
// the current signed checkpoint. The chain itself is written only by the commit script and sealed
// by the sealer (audit/chain.ts, sealer.ts); these are its reads, so commands name no Redis key.
import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { queryAudit, type AuditFilter } from '../audit/query.js';
import { currentCheckpoint, verifyAuditChain, type KnownCheckpoint } from '../audit/chain.js';
import type { AuditSigningKey } from '../audit/signingKey.js';

export function auditLogStore(redis: Redis, keys: RedisKeys) {
  return {
    page: (orgId: string, filter: AuditFilter, before: number | undefined, limit: number) => queryAudit(redis, keys, orgId, filter, before, limit),
    verify: (publicKey: KeyObject, orgId: string, known: KnownCheckpoint[] = []) => verifyAuditChain(redis, keys, publicKey, orgId, known),
    checkpoint: (signingKey: AuditSigningKey, publicUrl: string, orgId: string) => currentCheckpoint(redis, keys, signingKey, publicUrl, orgId),
  };
}

export type AuditLogStore = ReturnType<typeof auditLogStore>;
