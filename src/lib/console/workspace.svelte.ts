// The console's live connection to one organization: connecting and disconnecting the one socket,
// telling the server which page this tab is on, and who else is online. Who I am there and what I
// may do is `access` (account/access.svelte.ts), which follows the same socket.
import type { PresenceEntry } from '$lib/shared/events';
import { command, realtime, type ConnectionProblem } from '$lib/realtime/socket.svelte';
import { access } from '$lib/account/access.svelte';

class Workspace {
  online = $state<PresenceEntry[]>([]);
  #page = '/';

  /** Connects to the organization; returns the function that disconnects. */
  start(org: string, onEnd: (problem: ConnectionProblem) => void): () => void {
    access.start();
    const stops = [
      realtime.onEnd(onEnd),
      // Presence is not replayed: every (re)connection announces the page again.
      realtime.on('ready', () => void this.#announce()),
      realtime.on('presence', ({ online }) => (this.online = online)),
    ];
    realtime.connect(org);
    return () => {
      for (const stop of stops) stop();
      realtime.disconnect();
      this.online = [];
    };
  }

  /** Called on every navigation. */
  setPage(page: string): void {
    this.#page = page;
    if (realtime.connected) void this.#announce();
  }

  async #announce(): Promise<void> {
    try {
      const { online } = await command('presence.update', { page: this.#page });
      this.online = online;
    } catch {
      // Presence is a courtesy; the next `presence` event corrects it.
    }
  }
}

export const workspace = new Workspace();
