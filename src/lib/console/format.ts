// How the console writes sizes, times and page names.

export { formatBytes } from '$lib/shared/bytes';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateOnly.format(date);
}

/** "3 min ago", for lists; the exact time goes in a title. */
export function timeAgo(iso: string, now = Date.now()): string {
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return iso;
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 30) return `${days} d ago`;
  return formatDate(iso);
}

/** Initials for an avatar: "Demo Admin" → "DA". */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]![0], words.at(-1)![0]] : [...(words[0] ?? '?').slice(0, 2)];
  return letters.join('').toUpperCase();
}

const PAGE_NAMES: Array<[RegExp, string]> = [
  [/^\/$/, 'Dashboard'],
  [/^\/requests\/new\/?$/, 'New request'],
  [/^\/requests\/[^/]+/, 'a signing request'],
  [/^\/requests\/?$/, 'Requests'],
  [/^\/projects\/[^/]+/, 'a project'],
  [/^\/projects\/?$/, 'Projects'],
  [/^\/certificates/, 'Certificates'],
  [/^\/build-systems/, 'Build systems'],
  [/^\/team/, 'Team'],
  [/^\/api-keys/, 'API keys'],
  [/^\/audit/, 'Audit log'],
  [/^\/notifications/, 'Notifications'],
  [/^\/settings/, 'Settings'],
];

/** What a presence page path means to a person: "/requests/sr_1" → "a signing request". */
export function pageName(path: string): string {
  return PAGE_NAMES.find(([pattern]) => pattern.test(path))?.[1] ?? path;
}
