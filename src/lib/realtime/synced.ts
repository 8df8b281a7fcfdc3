// Loading a page's data at the right moment: now when the socket is already in sync, and again
// whenever the client must reload (first `ready` of a connection, or a resume that was impossible).
import { realtime } from './socket.svelte';

/** Runs `load` once the socket is in sync and after every resync; returns the unsubscriber. */
export function whenSynced(load: () => void): () => void {
  let loaded = false;
  const run = () => {
    loaded = true;
    load();
  };
  const stops = [
    realtime.onResync(run),
    // A resumed reconnect fires no resync; a page mounted while reconnecting still needs its first load.
    // Deferred, so that a resync of the same `ready` (which runs right after) loads only once.
    realtime.on('ready', () => queueMicrotask(() => !loaded && run())),
  ];
  if (realtime.connected && realtime.lastSeq !== null) run();
  return () => {
    for (const stop of stops) stop();
  };
}
