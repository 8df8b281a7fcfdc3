// The dashboard's numbers (dashboard.stats), kept live by asking again: a change that can move them
// (a request reaching a final status or leaving approval, a certificate, a renamed or deleted policy)
// schedules one refetch after a short quiet spell, so a burst of changes costs one read, and a steady
// stream still refreshes every MAX_DELAY_MS. The read is cheap (server/signing/statistics.ts: counts
// over indexes, no scan), and asking again keeps the numbers exactly the server's — counting events
// on the client would double-count a replay and miss what happened before the page was opened.
import { asProtocolError } from '$lib/protocol';
import { command } from '$lib/realtime/socket.svelte';
import type { SigningRequest } from '$lib/shared/entities';
import type { ChangeEvent } from '$lib/shared/events';
import { utcDay, type DashboardStats } from '$lib/shared/stats';

const QUIET_MS = 300;
const MAX_DELAY_MS = 2000;
/** Days to expiry move with time: the numbers are read again at least this often. */
const MAX_AGE_MS = 3600_000;

/** The entities whose changes the dashboard's numbers follow. */
export const STATS_ENTITIES = ['signingRequest', 'certificate', 'policy', 'project'] as const;

/** Whether a change can move the numbers (the entities of STATS_ENTITIES only). */
export function movesStats(event: ChangeEvent): boolean {
  if (event.entity !== 'signingRequest') return true;
  const request = event.data as SigningRequest | undefined;
  if (!request) return false;
  return request.isFinalStatus || (request.workflowStatus === 'QueuedForProcessing' && request.approvals.length > 0);
}

export class LiveDashboardStats {
  stats = $state.raw<DashboardStats | null>(null);
  error = $state<string | null>(null);
  days = $state(14);

  #generation = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #firstPendingAt: number | null = null;

  async load(): Promise<void> {
    this.#cancelPending();
    const generation = ++this.#generation;
    try {
      const stats = await command('dashboard.stats', { days: this.days });
      // An answer to an older question (another period, or overtaken by a later refetch) is dropped.
      if (generation !== this.#generation) return;
      this.stats = stats;
      this.error = null;
    } catch (error) {
      if (generation === this.#generation) this.error = asProtocolError(error).message;
    }
  }

  setDays(days: number): void {
    this.days = days;
    void this.load();
  }

  apply(event: ChangeEvent): void {
    if (!movesStats(event)) return;
    const now = Date.now();
    this.#firstPendingAt ??= now;
    clearTimeout(this.#timer);
    const delay = Math.max(0, Math.min(QUIET_MS, this.#firstPendingAt + MAX_DELAY_MS - now));
    this.#timer = setTimeout(() => void this.load(), delay);
  }

  /** For a timer: reads again once the day changed (UTC) or the numbers grew old. */
  tick(now = Date.now()): void {
    const stats = this.stats;
    if (stats && (utcDay(now) !== stats.days.at(-1) || now - Date.parse(stats.generatedAt) > MAX_AGE_MS)) void this.load();
  }

  dispose(): void {
    this.#cancelPending();
    this.#generation++;
  }

  #cancelPending(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#firstPendingAt = null;
  }
}
