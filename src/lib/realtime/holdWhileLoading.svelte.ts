// A page of live data races the live events: an event that arrives while the page is fetched may
// or may not be in what the page brings. So while a load is in flight its events are held, and once
// its result is shown they are applied on top of it, in the order they came (the lists using this
// skip what they already have and never step back to an older version, so an event the page already
// reflects changes nothing). A load overtaken by a newer one, or ended by cancel(), shows nothing:
// what it fetched is older than what the newer load brings, and so are the events it held.

/** One load in flight. */
export interface Load {
  /** False once a newer load began (or cancel() ended this one): what it fetched must not be shown. */
  readonly current: boolean;
  /**
   * Awaits `fetch`; if the load is still current, `show`s its result, then applies the events held
   * meanwhile. Resolves whether it showed. A rejected fetch stops the holding and rejects.
   */
  run<T>(fetch: () => Promise<T>, show: (result: T) => void): Promise<boolean>;
}

export class HoldWhileLoading<E> {
  /** The events held for the load in flight; null when none is in flight (raw: only that is watched). */
  #held = $state.raw<E[] | null>(null);
  #generation = 0;
  readonly #apply: (event: E) => void;

  /** `apply` applies one held event once the load's result is shown. */
  constructor(apply: (event: E) => void) {
    this.#apply = apply;
  }

  /** Whether a load is in flight. */
  get loading(): boolean {
    return this.#held !== null;
  }

  /** Begins a load that overtakes any in flight (a first page, a reload, another filter). */
  begin(): Load {
    this.#generation += 1;
    this.#held = [];
    return this.#load(this.#generation);
  }

  /**
   * Begins a load that continues the one shown (its next page), when none is in flight: a newer
   * begin() overtakes both.
   */
  continue(): Load {
    this.#held ??= [];
    return this.#load(this.#generation);
  }

  /** Begins a load that overtakes any in flight and runs it: `begin().run(fetch, show)`. */
  run<T>(fetch: () => Promise<T>, show: (result: T) => void): Promise<boolean> {
    return this.begin().run(fetch, show);
  }

  /** Whether what follows is still current, without holding events (for a fetch no live event races). */
  watch(): Pick<Load, 'current'> {
    return this.#load(this.#generation);
  }

  /** Holds `event` if a load is in flight (true); false: none is, the caller applies it now. */
  offer(event: E): boolean {
    if (this.#held === null) return false;
    this.#held.push(event);
    return true;
  }

  /** Ends every load in flight: none shows anything, and what they held is dropped. */
  cancel(): void {
    this.#generation += 1;
    this.#held = null;
  }

  #load(generation: number): Load {
    const isCurrent = () => generation === this.#generation;
    return {
      get current() {
        return isCurrent();
      },
      run: async (fetch, show) => {
        try {
          const result = await fetch();
          if (!isCurrent()) return false;
          const held = this.#held ?? [];
          this.#held = null;
          show(result);
          for (const event of held) this.#apply(event);
          return true;
        } finally {
          if (isCurrent()) this.#held = null;
        }
      },
    };
  }
}
