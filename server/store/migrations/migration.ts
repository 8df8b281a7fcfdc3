// What one data migration is. Each lives in its own numbered file (NNN-what-it-does.ts), is listed in
// index.ts, and says in its header comment whether nodes of the previous version can keep running
// while it applies (a rolling upgrade) or must be stopped first.
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../keys.js';

export interface MigrationContext {
  redis: Redis;
  keys: RedisKeys;
}

export interface Migration {
  /** The data-format version the store has once this migration ran (1, 2, …, no gaps). */
  version: number;
  /** What it changes, for the log. */
  name: string;
  /**
   * Brings data written by the previous version to this one. Must be idempotent: a node that dies
   * half-way leaves the version where it was, and the next node runs it again from the start.
   * Returns how many records it changed.
   */
  up(context: MigrationContext): Promise<number>;
}
