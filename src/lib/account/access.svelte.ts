// Who I am in the current organization and what I may do there, live: reloaded when the socket
// resyncs, when my own membership changes (a role change, removal) and when the organization does.
// Pages use it to show only what the user may do; the server checks every command anyway.
import type { Permission } from '$lib/shared/permissions';
import { commandPermissions, type CommandName } from '$lib/shared/commands';
import { asProtocolError } from '$lib/protocol';
import { command, realtime } from '$lib/realtime/socket.svelte';
import { whenSynced } from '$lib/realtime/synced';
import type { Me } from '$lib/shared/results';

class MyAccess {
  #me = $state<Me | null>(null);
  /** The organization slug #me was loaded for. */
  #org = $state<string | null>(null);
  /** A load that failed, shown until the next one succeeds. */
  error = $state<string | null>(null);
  /** Counts loads of `me`: pages reload their data when it moves (resync, my role changed). */
  generation = $state(0);
  #started = false;

  /** Me in the organization the socket is connected to (null while that is not known yet). */
  get me(): Me | null {
    return this.#org !== null && this.#org === realtime.org ? this.#me : null;
  }

  /** My user id (for a CI user acting with a key, the CI user's). */
  get userId(): string | null {
    const me = this.me;
    return me ? (me.user?.id ?? me.actor.id) : null;
  }

  can(permission: Permission): boolean {
    return this.me?.permissions.includes(permission) ?? false;
  }

  /** Whether my role (or key) allows the command at all, by its declared permission; the object it acts on has rules of its own (rules.ts). */
  mayRun(name: CommandName): boolean {
    const permission = commandPermissions[name];
    return this.me !== null && (permission === null || this.can(permission));
  }

  /** Starts following the socket; safe to call from every page. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    whenSynced(() => void this.reload());
    realtime.on('change', (event) => {
      const me = this.#me;
      if (!me) return;
      if (event.entity === 'organization' && event.id === me.org.id && event.op !== 'deleted') {
        me.org = event.data;
      } else if (event.entity === 'member' && event.id === (me.user?.id ?? me.actor.id)) {
        void this.reload();
      }
    });
  }

  async reload(): Promise<void> {
    try {
      const org = realtime.org;
      const me = await command('me.get', {});
      if (org !== realtime.org) return;
      this.#me = me;
      this.#org = org;
      this.generation += 1;
      this.error = null;
    } catch (error) {
      this.error = asProtocolError(error).message;
    }
  }
}

export const access = new MyAccess();
