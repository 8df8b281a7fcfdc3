// Everything the console shows about one organization, wired to the socket: who I am there and
// what my role allows, the team, the audit feed, my notifications, and who is online.
import type { Organization } from '$lib/shared/entities';
import type { ChangeEvent, PresenceEntry } from '$lib/shared/events';
import { roleHas, type Permission } from '$lib/shared/permissions';
import { asProtocolError } from '$lib/protocol';
import { command, realtime, type ConnectionProblem } from '$lib/realtime/socket.svelte';
import type { Me } from '$lib/realtime/results';
import { Team } from '$lib/team/team.svelte';
import { AuditFeed } from '$lib/audit/auditFeed.svelte';
import { Inbox } from '$lib/notifications/inbox.svelte';

export class Workspace {
  me = $state<Me | null>(null);
  online = $state<PresenceEntry[]>([]);
  /** A load that failed, shown until the next one succeeds. */
  error = $state<string | null>(null);
  readonly team = new Team();
  readonly audit = new AuditFeed();
  readonly inbox = new Inbox();
  readonly #page: string;

  constructor(page: string) {
    this.#page = page;
  }

  /** What the UI offers follows the role's row of the matrix; the server checks every command anyway. */
  can(permission: Permission): boolean {
    return this.me !== null && roleHas(this.me.role, permission);
  }

  /** Connects to the organization; returns the function that disconnects. */
  start(org: string, onEnd: (problem: ConnectionProblem) => void): () => void {
    const stops = [
      realtime.onResync(() => void this.reload()),
      realtime.onEnd(onEnd),
      realtime.on('ready', () => void this.#announcePresence()),
      realtime.on('presence', ({ online }) => (this.online = online)),
      realtime.on('change', (event) => this.#onChange(event)),
      realtime.on('audit', ({ entry }) => this.audit.add(entry)),
      realtime.on('notification', (event) => this.inbox.add(event)),
    ];
    realtime.connect(org);
    return () => {
      for (const stop of stops) stop();
      realtime.disconnect();
    };
  }

  async reload(): Promise<void> {
    try {
      this.me = await command('me.get', {});
      await Promise.all([
        this.team.load(this.can('team:manage')),
        this.can('audit:read') ? this.audit.load() : this.audit.reset(),
        this.inbox.load(),
      ]);
      this.error = null;
    } catch (error) {
      this.error = asProtocolError(error).message;
    }
  }

  #onChange(event: ChangeEvent): void {
    this.team.apply(event);
    this.inbox.apply(event);
    if (event.entity === 'organization' && event.data && this.me) {
      this.me.org = event.data as Organization;
    }
    // My own role changed: what I may see and do changed with it.
    if (event.entity === 'member' && event.id === this.me?.actor.id && event.op === 'updated') {
      void this.reload();
    }
  }

  async #announcePresence(): Promise<void> {
    try {
      const { online } = await command('presence.update', { page: this.#page });
      this.online = online;
    } catch {
      // Presence is a courtesy; the next `presence` event corrects it.
    }
  }
}
