// A list loaded once by a command and then kept current by `change` events. Events that arrive
// while a load is in flight are held and applied on top of its result, so none is lost to the race.
import type { ChangeEvent } from '$lib/shared/events';
import { HoldWhileLoading } from './holdWhileLoading.svelte';

export class LiveList<T extends object> {
  items = $state<T[]>([]);
  loaded = $state(false);

  readonly #hold = new HoldWhileLoading<ChangeEvent>((event) => this.#apply(event));
  readonly #keyOf: (item: T) => string;
  readonly #order: (a: T, b: T) => number;

  constructor(keyOf: (item: T) => string, order: (a: T, b: T) => number) {
    this.#keyOf = keyOf;
    this.#order = order;
  }

  async load(fetchItems: () => Promise<T[]>): Promise<void> {
    await this.#hold.run(fetchItems, (items) => {
      this.items = [...items].sort(this.#order);
      this.loaded = true;
    });
  }

  apply(event: ChangeEvent): void {
    if (!this.#hold.offer(event) && this.loaded) this.#apply(event);
  }

  reset(): void {
    this.#hold.cancel();
    this.items = [];
    this.loaded = false;
  }

  #apply(event: ChangeEvent): void {
    const index = this.items.findIndex((item) => this.#keyOf(item) === event.id);
    if (event.op === 'deleted') {
      if (index !== -1) this.items.splice(index, 1);
      return;
    }
    const next = event.data as T | undefined;
    if (!next) return;
    if (index === -1) {
      this.items = [...this.items, next].sort(this.#order);
      return;
    }
    // Never step back to an older version (a replayed event after a fresher load).
    const currentVersion = (this.items[index] as { version?: number }).version;
    if (currentVersion !== undefined && event.version !== undefined && event.version < currentVersion) return;
    this.items[index] = next;
  }
}
