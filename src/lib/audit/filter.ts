// The audit log's filters: as audit.query takes them, as the page's URL carries them, and the same
// matching the server does, for live entries that arrive while a filter is on.
import type { AuditEntry } from '$lib/shared/entities';
import type { CommandInput } from '$lib/shared/commands';

export interface AuditFilter {
  actorId: string;
  action: string;
  targetType: string;
  targetId: string;
  /** ISO 8601 (UTC), or empty. */
  from: string;
  to: string;
}

export const NO_FILTER: AuditFilter = { actorId: '', action: '', targetType: '', targetId: '', from: '', to: '' };
const KEYS = Object.keys(NO_FILTER) as Array<keyof AuditFilter>;

export function isFiltered(filter: AuditFilter): boolean {
  return KEYS.some((key) => filter[key] !== '');
}

/** The filter part of an audit.query input: empty fields left out. */
export function toQuery(filter: AuditFilter): CommandInput<'audit.query'> {
  const query: CommandInput<'audit.query'> = {};
  for (const key of KEYS) {
    const value = filter[key].trim();
    if (value) query[key] = value;
  }
  return query;
}

export function fromSearchParams(params: URLSearchParams): AuditFilter {
  const filter = { ...NO_FILTER };
  for (const key of KEYS) filter[key] = params.get(key)?.slice(0, 64) ?? '';
  return filter;
}

export function toSearchParams(filter: AuditFilter): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of KEYS) if (filter[key]) params.set(key, filter[key]);
  return params;
}

/** Whether an entry passes the filter: the rules of the server's audit query. */
export function matchesFilter(entry: AuditEntry, filter: AuditFilter): boolean {
  const { actorId, action, targetType, targetId, from, to } = filter;
  if (actorId && entry.actor.id !== actorId && entry.actor.onBehalfOf?.id !== actorId) return false;
  if (action && entry.action !== action && !entry.action.startsWith(`${action}.`)) return false;
  if (targetType && entry.target.type !== targetType) return false;
  if (targetId && entry.target.id !== targetId) return false;
  if (from && entry.time < new Date(from).toISOString()) return false;
  if (to && entry.time > new Date(to).toISOString()) return false;
  return true;
}

/**
 * `datetime-local` input value (local time, to the minute) → ISO 8601 in UTC; '' stays ''.
 * `endOfMinute` makes "to 17:30" include everything that happened during 17:30.
 */
export function localInputToIso(value: string, endOfMinute = false): string {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  if (endOfMinute && date.getSeconds() === 0 && date.getMilliseconds() === 0) date.setSeconds(59, 999);
  return date.toISOString();
}

/** ISO 8601 → `datetime-local` input value in local time. */
export function isoToLocalInput(iso: string): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
