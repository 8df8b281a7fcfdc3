// A list of signing requests, newest first, loaded a page at a time with the `before` cursor and
// kept live by `change` events: a newer version replaces the one shown, a request that starts or
// stops matching the filter comes or goes. Events that arrive while a page is in flight are held
// and applied on top of it, so none is lost to the race.
import type { CommandInput } from '$lib/shared/commands';
import type { SigningRequest } from '$lib/shared/entities';
import type { ChangeEvent } from '$lib/shared/events';
import { asProtocolError } from '$lib/protocol';
import { HoldWhileLoading, type Load } from '$lib/realtime/holdWhileLoading.svelte';
import { realtime, type RealtimeClient } from '$lib/realtime/socket.svelte';
import type { RequestPage } from '$lib/shared/results';

export type RequestFilter = Omit<CommandInput<'request.list'>, 'before' | 'limit'>;

/** How long to gather events before re-asking the server who waits for my approval. */
const REFETCH_DELAY_MS = 150;
/** How many pages in a row may bring nothing new before waiting for the user to ask again. */
const MAX_EMPTY_ROUNDS = 10;

/** The server's order: creation time, then id by code unit (as Redis orders equal scores). */
const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
const newestFirst = (a: SigningRequest, b: SigningRequest) => compare(b.createdAt, a.createdAt) || compare(b.id, a.id);

const without = <T>(items: T[], index: number) => [...items.slice(0, index), ...items.slice(index + 1)];
const replaced = <T>(items: T[], index: number, item: T) => [...items.slice(0, index), item, ...items.slice(index + 1)];

/** Inserts in newest-first order: a binary search, since the list may hold thousands. */
function insertSorted(items: SigningRequest[], item: SigningRequest): SigningRequest[] {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (newestFirst(items[middle]!, item) <= 0) low = middle + 1;
    else high = middle;
  }
  return [...items.slice(0, low), item, ...items.slice(low)];
}

export class RequestFeed {
  /** Raw state: thousands of rows are replaced, never deeply proxied. */
  items = $state.raw<SigningRequest[]>([]);
  nextBefore = $state<string | null>(null);
  loaded = $state(false);
  error = $state<string | null>(null);

  readonly filter: RequestFilter;
  readonly #pageSize: number;
  readonly #myUserId: string | null;
  readonly #client: RealtimeClient;
  readonly #hold = new HoldWhileLoading<ChangeEvent>((event) => this.#apply(event));
  #refetchTimer: ReturnType<typeof setTimeout> | undefined;

  /** `client`: the socket to ask (the console's own unless a test gives another). */
  constructor(filter: RequestFilter, options: { pageSize?: number; myUserId?: string | null; client?: RealtimeClient } = {}) {
    this.filter = filter;
    this.#pageSize = options.pageSize ?? 50;
    this.#myUserId = options.myUserId ?? null;
    this.#client = options.client ?? realtime;
  }

  /** Whether a page is in flight. */
  get loading(): boolean {
    return this.#hold.loading;
  }

  get hasMore(): boolean {
    return this.nextBefore !== null;
  }

  /** (Re)loads the first page. */
  async load(): Promise<void> {
    await this.#fetch(
      this.#hold.begin(),
      () => this.#client.command('request.list', { ...this.filter, limit: this.#pageSize }),
      (page) => {
        this.items = page.requests;
        this.nextBefore = page.nextBefore;
        this.loaded = true;
        this.error = null;
      },
    );
  }

  /**
   * Appends the next (older) page; does nothing while a page is in flight or at the end. A page
   * that brings nothing new (a filter that matched nothing in the scanned stretch) is followed by
   * the next one at once, so the list never stalls with more to come.
   */
  async loadMore(): Promise<void> {
    if (this.loading || !this.loaded || this.nextBefore === null) return;
    const load = this.#hold.continue();
    const fetchPages = async () => {
      for (let round = 0; round < MAX_EMPTY_ROUNDS && this.nextBefore !== null; round += 1) {
        // The cursor (creation ms and id) never skips or repeats a request; live events may
        // still have added one that a page brings again, so known ids are dropped.
        const before = this.nextBefore;
        const page: RequestPage = await this.#client.command('request.list', { ...this.filter, before, limit: this.#pageSize });
        if (!load.current) return;
        const known = new Set(this.items.map((request) => request.id));
        const fresh = page.requests.filter((request) => !known.has(request.id));
        if (fresh.length > 0) this.items = [...this.items, ...fresh];
        this.nextBefore = page.nextBefore;
        this.error = null;
        if (fresh.length > 0) break;
      }
    };
    await this.#fetch(load, fetchPages, () => {});
  }

  /**
   * Runs one fetch of pages (events that arrive meanwhile are held and applied on top of what it
   * brought; one overtaken by a newer load() changes nothing); a failure is shown as `error`.
   */
  async #fetch<T>(load: Load, fetch: () => Promise<T>, show: (result: T) => void): Promise<void> {
    try {
      await load.run(fetch, show);
    } catch (error) {
      if (load.current) this.error = asProtocolError(error).message;
    }
  }

  apply(event: ChangeEvent): void {
    if (event.entity !== 'signingRequest') return;
    if (!this.#hold.offer(event) && this.loaded) this.#apply(event);
  }

  dispose(): void {
    this.#hold.cancel();
    clearTimeout(this.#refetchTimer);
  }

  #apply(event: ChangeEvent): void {
    const index = this.items.findIndex((request) => request.id === event.id);
    if (event.op === 'deleted') {
      if (index !== -1) this.items = without(this.items, index);
      return;
    }
    const next = event.data as SigningRequest | undefined;
    if (!next) return;
    if (index !== -1) {
      const shown = this.items[index]!;
      // Never step back to an older version (a replayed event after a fresher load).
      if (next.version < shown.version) return;
      this.items = this.#matches(next) ? replaced(this.items, index, next) : without(this.items, index);
      return;
    }
    if (this.filter.awaitingMyApproval) {
      // Whether I approve it depends on its policy: the server knows.
      if (next.workflowStatus === 'WaitingForApproval') this.#refetchSoon();
      return;
    }
    if (!this.#matches(next)) return;
    // Beyond the loaded pages it comes with its own page, in its place.
    const oldest = this.items.at(-1);
    if (this.nextBefore !== null && oldest && newestFirst(next, oldest) > 0) return;
    this.items = insertSorted(this.items, next);
  }

  #matches(request: SigningRequest): boolean {
    const { projectId, workflowStatus, submitterId, awaitingMyApproval } = this.filter;
    if (projectId && request.projectId !== projectId) return false;
    if (workflowStatus && request.workflowStatus !== workflowStatus) return false;
    if (submitterId && request.submitterId !== submitterId) return false;
    if (awaitingMyApproval) {
      if (request.workflowStatus !== 'WaitingForApproval') return false;
      const me = this.#myUserId;
      if (me && [...request.approvals, ...request.denials].some((decision) => decision.userId === me)) return false;
    }
    return true;
  }

  #refetchSoon(): void {
    clearTimeout(this.#refetchTimer);
    this.#refetchTimer = setTimeout(() => void this.load(), REFETCH_DELAY_MS);
  }
}
