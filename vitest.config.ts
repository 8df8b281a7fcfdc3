import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { configDefaults, defineConfig } from 'vitest/config';

/** What both projects share: real servers and Chromium take their time on a busy machine. */
const shared = { pool: 'forks', testTimeout: 30_000, hookTimeout: 60_000 } as const;

export default defineConfig({
  test: {
    // On the root only, so that it runs once for the whole run (one Redis, one SoftHSM2 token);
    // every project reads what it provides.
    globalSetup: ['test/helpers/globalSetup.ts'],
    // Browser tests start Chromium; keep the machine (2 cores) from thrashing.
    maxWorkers: 2,
    projects: [
      {
        test: { ...shared, name: 'node', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/src/**'] },
      },
      {
        // The console's rune classes (src/lib/**/*.svelte.ts) as the browser runs them: compiled by
        // Svelte for the client, on Svelte's client runtime. Everything else resolves as in Node
        // (socket.io-client's Node build, and the Signet nodes these tests start in-process).
        plugins: [svelte({ dynamicCompileOptions: () => ({ generate: 'client', dev: false }) })],
        resolve: {
          alias: [
            { find: /^svelte$/, replacement: fileURLToPath(new URL('./node_modules/svelte/src/index-client.js', import.meta.url)) },
            { find: /^\$lib\//, replacement: fileURLToPath(new URL('./src/lib/', import.meta.url)) },
          ],
        },
        test: { ...shared, name: 'client', include: ['test/src/**/*.test.ts'] },
      },
    ],
  },
});
