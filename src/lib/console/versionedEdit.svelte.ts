// Editing an entity that has a version (SPEC §7, concurrent edits): the form keeps the version it
// was read at, sends only the fields the user changed, and a stale save comes back as CONFLICT with
// the entity as it is now. The user then either takes the current version, or applies their own
// changes on top of it — never a silent overwrite of someone else's edit.
import { ProtocolError, asProtocolError } from '$lib/protocol';

type Draft = Record<string, unknown>;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class VersionedEdit<T extends { version: number }, D extends Draft> {
  draft: D = $state() as D;
  /** The entity as it was read when editing started (or after a reload). */
  base: T = $state() as T;
  /** The current entity from a CONFLICT. */
  conflict = $state<T | null>(null);
  error = $state<ProtocolError | null>(null);
  busy = $state(false);

  readonly #toDraft: (entity: T) => D;

  constructor(entity: T, toDraft: (entity: T) => D) {
    this.#toDraft = toDraft;
    this.base = entity;
    this.draft = toDraft(entity);
  }

  /** The fields the user changed, relative to what they read. */
  changes(): Partial<D> {
    const read = this.#toDraft(this.base);
    const changed: Partial<D> = {};
    for (const key of Object.keys(this.draft) as Array<keyof D>) {
      if (!same(this.draft[key], read[key])) changed[key] = $state.snapshot(this.draft[key]) as D[keyof D];
    }
    return changed;
  }

  /**
   * Sends the changes with the version they were read at. Resolves with the saved entity, or null
   * when it was refused (then `error`, and with CONFLICT `conflict`, say why).
   */
  async save(send: (version: number, changes: Partial<D>) => Promise<T>): Promise<T | null> {
    this.busy = true;
    this.error = null;
    try {
      const saved = await send(this.base.version, this.changes());
      this.conflict = null;
      this.base = saved;
      this.draft = this.#toDraft(saved);
      return saved;
    } catch (failure) {
      const error = asProtocolError(failure);
      this.error = error;
      if (error.code === 'CONFLICT' && isVersioned(error.current)) this.conflict = error.current as T;
      return null;
    } finally {
      this.busy = false;
    }
  }

  /** Takes the current version, dropping the user's edit. */
  reload(current: T | null = this.conflict): void {
    if (!current) return;
    this.base = current;
    this.draft = this.#toDraft(current);
    this.conflict = null;
    this.error = null;
  }

  /** Re-applies the user's changes on top of the current version, and saves again. */
  async applyOnTop(send: (version: number, changes: Partial<D>) => Promise<T>): Promise<T | null> {
    const current = this.conflict;
    if (!current) return null;
    const mine = this.changes();
    this.base = current;
    this.draft = { ...this.#toDraft(current), ...mine };
    this.conflict = null;
    return this.save(send);
  }

  /** For the conflict notice: each field the user or the other editor changed. */
  conflictFields(): Array<{ key: keyof D; mine: unknown; mineChanged: boolean; theirs: unknown }> {
    const current = this.conflict;
    if (!current) return [];
    const theirs = this.#toDraft(current);
    const read = this.#toDraft(this.base);
    return (Object.keys(this.draft) as Array<keyof D>)
      .filter((key) => !same(this.draft[key], read[key]) || !same(theirs[key], read[key]))
      .map((key) => ({ key, mine: this.draft[key], mineChanged: !same(this.draft[key], read[key]), theirs: theirs[key] }));
  }
}

function isVersioned(value: unknown): value is { version: number } {
  return typeof value === 'object' && value !== null && typeof (value as { version?: unknown }).version === 'number';
}
