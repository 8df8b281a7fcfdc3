// The import graph of server/ and src/ has no cycles, type-only imports included: a lower room never
// imports a higher one, not even for a type (STYLE.md, "Our layout"). madge reads the graph as
// `npx madge --circular --ts-config tsconfig.json --extensions ts server src` does.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import madge from 'madge';

const root = path.resolve(import.meta.dirname, '../..');

describe('the import graph', () => {
  it('has no circular imports in server/ and src/', async () => {
    const graph = await madge(['server', 'src'], {
      baseDir: root,
      fileExtensions: ['ts'],
      // What the SvelteKit tsconfig adds ($lib), without needing `svelte-kit sync` first.
      tsConfig: { compilerOptions: { baseUrl: root, paths: { $lib: ['src/lib'], '$lib/*': ['src/lib/*'] }, module: 'esnext', moduleResolution: 'bundler' } },
      detectiveOptions: { ts: { skipTypeImports: false }, tsx: { skipTypeImports: false } },
    });
    // Every import resolved (an unresolved one would hide its edges from the check).
    expect(graph.warnings().skipped).toEqual([]);
    expect(Object.keys(graph.obj()).length).toBeGreaterThan(100);
    expect(graph.circular().map((cycle) => cycle.join(' > '))).toEqual([]);
  });
});
