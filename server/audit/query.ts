// Reads the audit log newest first, with filters and a seq cursor.
import type { Redis } from 'ioredis';
import type { AuditEntry } from '../../src/lib/shared/entities.js';
import type { AuditPage } from '../../src/lib/shared/results.js';
import type { RedisKeys } from '../store/keys.js';

export interface AuditFilter {
  actorId?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: string;
  to?: string;
}


const SCAN_CHUNK = 500;
const SCAN_LIMIT = 20_000;

export function parseStoredEntry(stored: string, seq: number): AuditEntry {
  return { ...(JSON.parse(stored) as Omit<AuditEntry, 'seq'>), seq };
}

function matches(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.actorId && entry.actor.id !== filter.actorId && entry.actor.onBehalfOf?.id !== filter.actorId) return false;
  if (filter.action && entry.action !== filter.action && !entry.action.startsWith(`${filter.action}.`)) return false;
  if (filter.targetType && entry.target.type !== filter.targetType) return false;
  if (filter.targetId && entry.target.id !== filter.targetId) return false;
  if (filter.to && entry.time > new Date(filter.to).toISOString()) return false;
  return true;
}

export async function queryAudit(
  redis: Redis,
  keys: RedisKeys,
  orgId: string,
  filter: AuditFilter,
  before: number | undefined,
  limit: number,
): Promise<AuditPage> {
  const entries: AuditEntry[] = [];
  const fromIso = filter.from ? new Date(filter.from).toISOString() : null;
  let upper = before === undefined ? '+inf' : `(${before}`;
  let scanned = 0;
  while (scanned < SCAN_LIMIT) {
    const rows = await redis.zrevrangebyscore(keys.audit(orgId), upper, '-inf', 'WITHSCORES', 'LIMIT', 0, SCAN_CHUNK);
    if (rows.length === 0) return { entries, nextBefore: null };
    for (let i = 0; i < rows.length; i += 2) {
      const entry = parseStoredEntry(rows[i]!, Number(rows[i + 1]));
      scanned += 1;
      // Entries are in time order, so once one is older than `from` all the rest are too.
      if (fromIso && entry.time < fromIso) return { entries, nextBefore: null };
      if (matches(entry, filter)) entries.push(entry);
      if (entries.length === limit) return { entries, nextBefore: entry.seq };
      upper = `(${entry.seq}`;
    }
  }
  return { entries, nextBefore: Number(upper.slice(1)) };
}
