// Following `change` events of some entities, for pages that keep their own lists live.
import type { ChangeEvent } from '$lib/shared/events';
import { realtime } from '$lib/realtime/socket.svelte';

/** Calls `handler` for every change of one of `entities`; returns the unsubscriber. */
export function onEntityChange(entities: string | readonly string[], handler: (event: ChangeEvent) => void): () => void {
  const wanted = typeof entities === 'string' ? [entities] : entities;
  return realtime.on('change', (event) => {
    if (wanted.includes(event.entity)) handler(event);
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
