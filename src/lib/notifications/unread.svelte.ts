// My unread notification count in the current organization, live: loaded when the socket syncs,
// then taken from every `notification` event and every inbox change (marked read here or elsewhere).
import { command, realtime } from '$lib/realtime/socket.svelte';
import { whenSynced } from '$lib/realtime/synced';

class UnreadCount {
  #count = $state(0);
  #org = $state<string | null>(null);
  #started = false;

  /** The count for the organization the socket is connected to (0 until it is known). */
  get count(): number {
    return this.#org !== null && this.#org === realtime.org ? this.#count : 0;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    whenSynced(() => void this.reload());
    realtime.on('notification', ({ unreadCount }) => this.set(unreadCount));
    realtime.on('change', (event) => {
      if (event.entity !== 'notificationInbox' || !event.data) return;
      this.set((event.data as { unreadCount: number }).unreadCount);
    });
  }

  /** What a command that returned the count (list, mark read) says it is now. */
  set(count: number): void {
    this.#count = count;
    this.#org = realtime.org;
  }

  async reload(): Promise<void> {
    try {
      const { unreadCount } = await command('notification.list', { unreadOnly: true, limit: 1 });
      this.set(unreadCount);
    } catch {
      // The bell is a courtesy; the next notification event corrects it.
    }
  }
}

export const unread = new UnreadCount();
