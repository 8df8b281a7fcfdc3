// The signed-in user's notifications in this organization, live.
import type { Notification } from '$lib/shared/entities';
import type { ChangeEvent, NotificationEvent } from '$lib/shared/events';
import { command } from '$lib/realtime/socket.svelte';

const SHOWN = 20;

export class Inbox {
  items = $state<Notification[]>([]);
  unreadCount = $state(0);

  async load(): Promise<void> {
    const { items, unreadCount } = await command('notification.list', { limit: SHOWN });
    this.items = items;
    this.unreadCount = unreadCount;
  }

  add({ notification, unreadCount }: NotificationEvent): void {
    if (this.items.some((item) => item.id === notification.id)) return;
    this.items = [notification, ...this.items].slice(0, SHOWN);
    this.unreadCount = unreadCount;
  }

  /** Another tab or device marked notifications read. */
  apply(event: ChangeEvent): void {
    if (event.entity !== 'notificationInbox' || !event.data) return;
    const { readIds, unreadCount } = event.data as { readIds: string[]; unreadCount: number };
    const read = new Set(readIds);
    const now = new Date().toISOString();
    for (const item of this.items) if (read.has(item.id) && !item.readAt) item.readAt = now;
    this.unreadCount = unreadCount;
  }

  async markAllRead(): Promise<void> {
    const { unreadCount } = await command('notification.markRead', { all: true });
    const now = new Date().toISOString();
    for (const item of this.items) item.readAt ??= now;
    this.unreadCount = unreadCount;
  }
}
