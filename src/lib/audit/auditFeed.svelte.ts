// The audit log, newest first: a first page from audit.query, live entries from `audit` events,
// older pages on demand.
import type { AuditEntry } from '$lib/shared/entities';
import { command } from '$lib/realtime/socket.svelte';

const PAGE_SIZE = 50;
/** Live entries are kept in memory; beyond this the oldest loaded ones are dropped. */
const KEEP = 1_000;

export class AuditFeed {
  entries = $state<AuditEntry[]>([]);
  loaded = $state(false);
  nextBefore = $state<number | null>(null);
  loadingOlder = $state(false);

  #generation = 0;
  #held: AuditEntry[] | null = null;

  async load(): Promise<void> {
    const generation = ++this.#generation;
    this.#held = [];
    try {
      const page = await command('audit.query', { limit: PAGE_SIZE });
      if (generation !== this.#generation) return;
      const held = this.#held;
      this.#held = null;
      this.entries = page.entries;
      this.nextBefore = page.nextBefore;
      this.loaded = true;
      for (const entry of held) this.add(entry);
    } finally {
      if (generation === this.#generation) this.#held = null;
    }
  }

  async loadOlder(): Promise<void> {
    if (this.nextBefore === null || this.loadingOlder) return;
    this.loadingOlder = true;
    try {
      const page = await command('audit.query', { limit: PAGE_SIZE, before: this.nextBefore });
      const known = new Set(this.entries.map((entry) => entry.seq));
      this.entries.push(...page.entries.filter((entry) => !known.has(entry.seq)));
      this.nextBefore = page.nextBefore;
    } finally {
      this.loadingOlder = false;
    }
  }

  add(entry: AuditEntry): void {
    if (this.#held) {
      this.#held.push(entry);
      return;
    }
    if (!this.loaded || this.entries.some((known) => known.seq === entry.seq)) return;
    const at = this.entries.findIndex((known) => known.seq < entry.seq);
    if (at === -1) this.entries.push(entry);
    else this.entries.splice(at, 0, entry);
    if (this.entries.length > KEEP) {
      this.entries.length = KEEP;
      this.nextBefore = this.entries[KEEP - 1]!.seq;
    }
  }

  reset(): void {
    this.#generation += 1;
    this.#held = null;
    this.entries = [];
    this.loaded = false;
    this.nextBefore = null;
  }
}
