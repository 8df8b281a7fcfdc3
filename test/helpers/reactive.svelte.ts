// Waiting on the console's rune state in the client tests (test/src/): a Svelte effect re-checks the
// condition whenever the state it reads changes, as a page would re-render, so a test awaits the
// change itself rather than polling for it.

/** Resolves once `condition`, which reads rune state, holds (perhaps at once). */
export function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const stop = $effect.root(() => {
      $effect(() => {
        if (!condition()) return;
        resolve();
        // Not from inside the effect that is running.
        queueMicrotask(() => stop());
      });
    });
  });
}
