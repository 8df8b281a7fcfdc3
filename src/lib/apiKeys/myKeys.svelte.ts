// My API keys in the current organization, live. apiKey.list also returns CI users' keys to team
// managers; this page shows only the keys I own.
import type { ApiKey } from '$lib/shared/entities';
import type { ChangeEvent } from '$lib/shared/events';
import { command } from '$lib/realtime/socket.svelte';
import { LiveList } from '$lib/realtime/liveList.svelte';

export class MyKeys {
  readonly keys = new LiveList<ApiKey>(
    (key) => key.id,
    (a, b) => b.createdAt.localeCompare(a.createdAt),
  );

  load(): Promise<void> {
    return this.keys.load(() => command('apiKey.list', {}));
  }

  apply(event: ChangeEvent): void {
    if (event.entity === 'apiKey') this.keys.apply(event);
  }

  ownedBy(userId: string | null): ApiKey[] {
    return this.keys.items.filter((key) => key.ownerId === userId);
  }
}

export const EXPIRY_CHOICES = [
  { value: 'never', label: 'Never' },
  { value: '7', label: 'In 7 days' },
  { value: '30', label: 'In 30 days' },
  { value: '90', label: 'In 90 days' },
  { value: '365', label: 'In a year' },
  { value: 'date', label: 'On a date…' },
] as const;
export type ExpiryChoice = (typeof EXPIRY_CHOICES)[number]['value'];

/** The expiry to send: null for never; a chosen date expires at the end of that local day. */
export function expiryOf(choice: ExpiryChoice, date: string, now = new Date()): string | null {
  if (choice === 'never') return null;
  if (choice === 'date') {
    if (!date) return '';
    const [year, month, day] = date.split('-').map(Number);
    return new Date(year!, month! - 1, day!, 23, 59, 59).toISOString();
  }
  return new Date(now.getTime() + Number(choice) * 24 * 60 * 60 * 1000).toISOString();
}
