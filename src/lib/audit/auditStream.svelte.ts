// The audit page's state: the log newest first under the chosen filters, paged backwards with
// audit.query's `before` cursor, with matching entries from live `audit` events prepended, or held
// and counted while paused. Entries are kept in a raw array (never deeply proxied): the page may
// hold tens of thousands.
import type { AuditEntry } from '$lib/shared/entities';
import { HoldWhileLoading } from '$lib/realtime/holdWhileLoading.svelte';
import { realtime, type RealtimeClient } from '$lib/realtime/socket.svelte';
import { matchesFilter, NO_FILTER, toQuery, type AuditFilter } from './filter';

const PAGE_SIZE = 200;

export class AuditStream {
  /** The filter the shown entries match. */
  filter = $state<AuditFilter>({ ...NO_FILTER });
  entries = $state.raw<AuditEntry[]>([]);
  loaded = $state(false);
  loadingMore = $state(false);
  /** The cursor for older entries; null once the log is exhausted. */
  nextBefore = $state<number | null>(null);
  paused = $state(false);
  /** Matching live entries that arrived while paused, newest first. */
  held = $state.raw<AuditEntry[]>([]);
  /** The signed checkpoint note the last load was shown (undefined: not loaded yet). */
  checkpoint = $state.raw<string | null | undefined>(undefined);

  #seen = new Set<number>();
  /** Live entries that arrive while the first page is in flight are held, then received on top of it. */
  readonly #hold = new HoldWhileLoading<AuditEntry>((entry) => this.receive(entry));
  readonly #client: RealtimeClient;

  /** `client`: the socket to ask (the console's own unless a test gives another). */
  constructor(client: RealtimeClient = realtime) {
    this.#client = client;
  }

  /** Whether the first page is in flight. */
  get loading(): boolean {
    return this.#hold.loading;
  }

  /** Loads the newest page for `filter` (replacing what is shown). */
  async load(filter: AuditFilter = this.filter): Promise<void> {
    const load = this.#hold.begin();
    this.filter = { ...filter };
    await load.run(
      () => this.#client.command('audit.query', { ...toQuery(filter), limit: PAGE_SIZE }),
      (page) => {
        this.#seen = new Set(page.entries.map((entry) => entry.seq));
        this.entries = page.entries;
        this.held = [];
        this.nextBefore = page.nextBefore;
        this.checkpoint = page.checkpoint ?? null;
        this.loaded = true;
      },
    );
  }

  /** Loads the next older page; does nothing while one is loading or when there is none. */
  async loadMore(): Promise<void> {
    if (this.nextBefore === null || this.loadingMore || this.loading) return;
    // Older entries race no live event (those are newer): nothing is held, but a reload overtakes it.
    const load = this.#hold.watch();
    this.loadingMore = true;
    try {
      const page = await this.#client.command('audit.query', { ...toQuery(this.filter), before: this.nextBefore, limit: PAGE_SIZE });
      if (!load.current) return;
      const older = page.entries.filter((entry) => !this.#seen.has(entry.seq));
      for (const entry of older) this.#seen.add(entry.seq);
      this.entries = this.entries.concat(older);
      this.nextBefore = page.nextBefore;
    } finally {
      if (load.current) this.loadingMore = false;
    }
  }

  /** A live entry from an `audit` event. */
  receive(entry: AuditEntry): void {
    if (this.#hold.offer(entry)) return;
    if (!this.loaded || this.#seen.has(entry.seq) || !matchesFilter(entry, this.filter)) return;
    // Older than everything loaded while older pages remain: it arrives with those pages.
    const oldest = this.entries.at(-1);
    if (oldest && this.nextBefore !== null && entry.seq < oldest.seq) return;
    this.#seen.add(entry.seq);
    if (this.paused) this.held = insertNewestFirst(this.held, entry);
    else this.entries = insertNewestFirst(this.entries, entry);
  }

  pause(): void {
    this.paused = true;
  }

  /** Shows what arrived meanwhile and follows the log live again. */
  resume(): void {
    this.paused = false;
    if (this.held.length === 0) return;
    let entries = this.entries;
    // Held entries are newer than what is shown, except after a reload in between: merge in order.
    for (const entry of [...this.held].reverse()) entries = insertNewestFirst(entries, entry);
    this.entries = entries;
    this.held = [];
  }

  reset(): void {
    this.#hold.cancel();
    this.#seen.clear();
    this.entries = [];
    this.held = [];
    this.loaded = false;
    this.loadingMore = false;
    this.nextBefore = null;
    this.checkpoint = undefined;
  }
}

/** A new array with `entry` at its place in newest-first order (nearly always the front). */
function insertNewestFirst(entries: readonly AuditEntry[], entry: AuditEntry): AuditEntry[] {
  if (entries.length === 0 || entry.seq > entries[0]!.seq) return [entry, ...entries];
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (entries[middle]!.seq > entry.seq) low = middle + 1;
    else high = middle;
  }
  return [...entries.slice(0, low), entry, ...entries.slice(low)];
}
