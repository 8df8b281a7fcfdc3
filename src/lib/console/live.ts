// Following `change` events of some entities, for pages that keep their own lists live.
import type { ChangeEvent, EntityName } from '$lib/shared/events';
import { asProtocolError } from '$lib/protocol';
import type { LiveList } from '$lib/realtime/liveList.svelte';
import { realtime } from '$lib/realtime/socket.svelte';
import { whenSynced } from '$lib/realtime/synced';

/**
 * Calls `handler` for every change of one of `entities` (names from the closed set in events.ts,
 * so `event.data` is typed by the entity); returns the unsubscriber.
 */
export function onEntityChange<E extends EntityName>(entities: E | readonly E[], handler: (event: ChangeEvent<E>) => void): () => void {
  const wanted: readonly EntityName[] = typeof entities === 'string' ? [entities] : entities;
  return realtime.on('change', (event) => {
    if (wanted.includes(event.entity)) handler(event as ChangeEvent<E>);
  });
}

/** One unsubscriber for several, for an onMount/$effect teardown. */
export function all(...stops: Array<() => void>): () => void {
  return () => {
    for (const stop of stops) stop();
  };
}

/** Calls `tick` every minute (for what depends on the time, such as days left); returns the stopper. */
export function everyMinute(tick: () => void): () => void {
  const timer = setInterval(tick, 60_000);
  return () => clearInterval(timer);
}

/**
 * Keeps a page's `list` of one `entity` live: loaded by `fetchItems` once the socket is in sync
 * (and again after every resync), then changed by that entity's events. `onLoaded` hears why a
 * load failed, or null once one succeeded. Returns the stopper.
 */
export function keepListLive<T extends object>(
  list: LiveList<T>,
  entity: EntityName,
  fetchItems: () => Promise<T[]>,
  onLoaded: (failure: string | null) => void,
): () => void {
  return all(
    whenSynced(() => {
      list.load(fetchItems).then(
        () => onLoaded(null),
        (failure) => onLoaded(asProtocolError(failure).message),
      );
    }),
    onEntityChange(entity, (event) => list.apply(event)),
  );
}
