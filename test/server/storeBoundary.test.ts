// Handlers, authentication, the CLI, signing and the HTTP routes reach Redis only through the store
// (STYLE.md: "handlers decide, never name keys"; issue 12 item 1): none of their files names a Redis
// key, reaches for the runtime's Redis client, or commits around the acting context (store/acting.ts).
// The offending lines are listed as file:line, so a failure says where to look.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { redisKeys } from '../../server/store/keys.js';

const root = path.resolve(import.meta.dirname, '../..');
const GUARDED = ['server/commands', 'server/auth', 'server/cli', 'server/signing', 'server/http'];

/**
 * The one place a command's commit goes to the runtime's `apply` without an acting context: the
 * command attempt fences that `apply` itself (its deadline and request-id claim), and every acting
 * context of the command commits through it (commands/define.ts).
 */
const FENCE = { file: 'server/commands/attempt.ts', text: 'signet.apply(guarded)' };

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)));
}

// Every key the store names (keys.ts), as a handler would write it: `keys.member(`, `signet.keys.audit(`.
const keyNames = Object.keys(redisKeys('x:')).filter((name) => name !== 'prefix');
const RULES: Array<{ what: string; pattern: RegExp }> = [
  { what: 'names a Redis key', pattern: new RegExp(`\\bkeys\\.(?:${keyNames.join('|')})\\b`) },
  { what: "reaches for the store's keys or Redis client", pattern: /\b(?:signet|store|context)\.(?:redis|keys)\b|\.redis\./ },
  { what: "takes the runtime's Redis client", pattern: /\{[^}]*\b(?:redis|keys)\b[^}]*\}\s*=\s*(?:signet|context|store)\b/ },
  { what: 'commits around the acting context', pattern: /\bsignet\.apply\(|\bauditDraft\(/ },
];

function offences(): string[] {
  const found: string[] = [];
  for (const file of GUARDED.flatMap(sourceFiles)) {
    readFileSync(path.join(root, file), 'utf8')
      .split('\n')
      .forEach((line, index) => {
        if (file === FENCE.file && line.includes(FENCE.text)) return;
        for (const { what, pattern } of RULES) {
          if (pattern.test(line)) found.push(`${file}:${index + 1} ${what}: ${line.trim()}`);
        }
      });
  }
  return found;
}

describe('the store boundary', () => {
  it('reads the files it guards, and knows the store’s keys', () => {
    expect(GUARDED.flatMap(sourceFiles).length).toBeGreaterThan(50);
    expect(keyNames).toEqual(expect.arrayContaining(['member', 'policySlugs', 'apiKeyLastUsed', 'audit']));
  });

  it('no handler, auth, CLI, signing or HTTP file names a Redis key, uses the Redis client or commits around the acting context', () => {
    expect(offences()).toEqual([]);
  });

  it('would list a key named in a handler, with its file and line', () => {
    const line = "const policyId = await redis.hget(signet.keys.policySlugs(projectId), slug);";
    expect(RULES.filter(({ pattern }) => pattern.test(line)).map(({ what }) => what)).toEqual(['names a Redis key', "reaches for the store's keys or Redis client"]);
  });
});
