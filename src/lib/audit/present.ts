// How an audit entry reads on screen: who, what changed, in short and in full. Text only.
import type { AuditActor, AuditEntry } from '$lib/shared/entities';

export const ACTOR_TYPE_LABELS: Record<AuditActor['type'], string> = {
  user: 'user',
  ciUser: 'CI user',
  apiKey: 'API key',
  support: 'support',
  operator: 'operator',
  system: 'system',
  anonymous: 'anonymous',
};

/** A value as one short line: strings as they are, the rest as JSON. */
export function shortValue(value: unknown, max = 48): string {
  const text = fullValue(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function fullValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Multi-line JSON for the expanded view. */
export function prettyValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}

/** "role: member → admin" for the first change; the count of the others. */
export function changesSummary(entry: AuditEntry): { text: string; more: number } {
  const fields = Object.entries(entry.changes);
  if (fields.length === 0) return { text: entry.reason ?? '', more: 0 };
  const [field, change] = fields[0]!;
  return { text: `${field}: ${shortValue(change.before, 28)} → ${shortValue(change.after, 28)}`, more: fields.length - 1 };
}

const clock = { hour: '2-digit', minute: '2-digit', second: '2-digit' } as const;
const thisYearFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', ...clock });
const otherYearFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', ...clock });

/** Local time to the second; the year only when it is not this one. */
export function localTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return (date.getFullYear() === now.getFullYear() ? thisYearFormat : otherYearFormat).format(date);
}
