// The signed-in user's notifications in this organization, live.
import type { Notification } from '$lib/shared/entities';
import type { ChangeEvent, NotificationEvent } from '$lib/shared/events';
import { command } from '$lib/realtime/socket.svelte';
import { unread } from './unread.svelte';

export class Inbox {
  items = $state<Notification[]>([]);
  unreadCount = $state(0);
  loaded = $state(false);
  /** Whether the list holds unread notifications only. */
  unreadOnly = $state(false);
  readonly #limit: number;
  #generation = 0;

  /** `limit`: how many of the newest notifications are kept (at most 200, the server's page). */
  constructor(limit = 20) {
    this.#limit = limit;
  }

  async load(unreadOnly = this.unreadOnly): Promise<void> {
    const generation = ++this.#generation;
    const { items, unreadCount } = await command('notification.list', { limit: this.#limit, unreadOnly });
    if (generation !== this.#generation) return;
    this.items = items;
    this.unreadOnly = unreadOnly;
    this.unreadCount = unreadCount;
    this.loaded = true;
    unread.set(unreadCount);
  }

  add({ notification, unreadCount }: NotificationEvent): void {
    this.unreadCount = unreadCount;
    if (this.items.some((item) => item.id === notification.id)) return;
    this.items = [notification, ...this.items].slice(0, this.#limit);
  }

  /** Another tab or device (or this one) marked notifications read. */
  apply(event: ChangeEvent): void {
    if (event.entity !== 'notificationInbox' || !event.data) return;
    const { readIds, unreadCount } = event.data as { readIds: string[]; unreadCount: number };
    this.#markLocally(readIds);
    this.unreadCount = unreadCount;
  }

  async markRead(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const { unreadCount } = await command('notification.markRead', { ids });
    this.#markLocally(ids);
    this.unreadCount = unreadCount;
    unread.set(unreadCount);
  }

  async markAllRead(): Promise<void> {
    const { unreadCount } = await command('notification.markRead', { all: true });
    this.#markLocally(this.items.map((item) => item.id));
    this.unreadCount = unreadCount;
    unread.set(unreadCount);
  }

  #markLocally(ids: readonly string[]): void {
    const read = new Set(ids);
    const now = new Date().toISOString();
    for (const item of this.items) if (read.has(item.id) && !item.readAt) item.readAt = now;
  }
}
