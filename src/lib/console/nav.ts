// The console's sections, each shown only to those whose permissions allow it.
import type { Permission } from '$lib/shared/permissions';

export interface NavItem {
  href: string;
  label: string;
  /** Any one of these lets the user see the item; an empty list: everybody. */
  anyOf: Permission[];
  /** Other paths that belong to this section. */
  also?: string[];
}

export const NAV_ITEMS: NavItem[] = [
  { href: '/', label: 'Dashboard', anyOf: ['signing:read'] },
  { href: '/requests', label: 'Requests', anyOf: ['signing:read'] },
  { href: '/projects', label: 'Projects', anyOf: ['config:read'], also: ['/build-systems'] },
  { href: '/certificates', label: 'Certificates', anyOf: ['config:read'] },
  { href: '/team', label: 'Team', anyOf: ['team:read'] },
  // Keys are your own (apikey:write), or a CI user's (team:manage).
  { href: '/api-keys', label: 'API keys', anyOf: ['apikey:write', 'team:manage'] },
  { href: '/audit', label: 'Audit log', anyOf: ['audit:read'] },
  // Everyone has notification settings; the organization's own settings need more, checked there.
  { href: '/settings', label: 'Settings', anyOf: [] },
];

export function isActive(item: NavItem, path: string): boolean {
  const within = (base: string) => (base === '/' ? path === '/' : path === base || path.startsWith(`${base}/`));
  return within(item.href) || (item.also ?? []).some(within);
}
