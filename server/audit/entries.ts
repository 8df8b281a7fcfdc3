// Builds audit entries. Secrets never enter one: fields that look like secrets are redacted
// before an entry is written, whatever the caller passed.
import { randomUUID } from 'node:crypto';
import type { AuditActor, AuditEntry } from '../../src/lib/shared/entities.js';
import type { AuditDraft } from '../store/commit.js';

export type AuditSource = AuditEntry['source'];
export type AuditTarget = AuditEntry['target'];
export type AuditChanges = AuditEntry['changes'];

const SECRET_FIELD = /password|secret|token|hash|privatekey|private_key|session|cookie|authorization/i;
const REDACTED = '[redacted]';

function redactValue(field: string, value: unknown): unknown {
  if (SECRET_FIELD.test(field)) return value === undefined || value === null ? value : REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactValue('', item));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redactValue(key, inner)]));
  }
  return value;
}

/** before → after for each field that differs (for created entities `before` is absent, and so on). */
export function diffFields(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  ignore: string[] = ['version'],
): AuditChanges {
  const fields = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const changes: AuditChanges = {};
  for (const field of fields) {
    if (ignore.includes(field)) continue;
    const was = before?.[field];
    const now = after?.[field];
    if (JSON.stringify(was) === JSON.stringify(now)) continue;
    changes[field] = { before: redactValue(field, was ?? null), after: redactValue(field, now ?? null) };
  }
  return changes;
}

export interface AuditInput {
  orgId: string;
  actor: AuditActor;
  action: string;
  target: AuditTarget;
  changes?: AuditChanges;
  outcome?: AuditEntry['outcome'];
  reason?: string;
  source: AuditSource;
}

export function auditDraft(input: AuditInput): AuditDraft {
  const changes: AuditChanges = {};
  for (const [field, change] of Object.entries(input.changes ?? {})) {
    changes[field] = { before: redactValue(field, change.before), after: redactValue(field, change.after) };
  }
  return {
    id: randomUUID(),
    time: new Date().toISOString(),
    orgId: input.orgId,
    actor: input.actor,
    action: input.action,
    target: input.target,
    changes,
    outcome: input.outcome ?? 'ok',
    ...(input.reason ? { reason: input.reason } : {}),
    source: input.source,
  };
}

export const CLI_SOURCE: AuditSource = { via: 'cli' };
