// Following `change` events of some entities, for pages that keep their own lists live.
import type { ChangeEvent, EntityName } from '$lib/shared/events';
import { realtime } from '$lib/realtime/socket.svelte';

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
