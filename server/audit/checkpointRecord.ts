// A node's forward-only record of the audit checkpoints it has seen, kept on its own disk (the data
// directory), outside the Redis an attacker could roll back (SPEC §6). One file per installation
// (Redis prefix) and organization, `<prefix><orgId>.checkpoints`, one signed note per line as a JSON
// string, only ever appended to (O_APPEND, one write per line), so several nodes or CLI runs may
// share the directory: each reads what the others appended. Lines that are torn (a crash mid-write),
// or not signed by this instance's key, are skipped. A file over `compactBytes` (1 MiB, about 4,000
// checkpoints) is replaced by its highest line.
import { open, readdir, mkdir, rename, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { CheckpointError, openCheckpoint } from './checkpointNote.js';

export interface RecordedCheckpoint {
  size: number;
  /** The chain head after `size` entries, hex. */
  hash: string;
  note: string;
}

const SUFFIX = '.checkpoints';
const ORG_ID = /^[A-Za-z0-9_-]{1,64}$/;
const COMPACT_BYTES = 1024 * 1024;

function fileName(prefix: string, orgId: string): string {
  if (!ORG_ID.test(orgId)) throw new Error(`not an organization id: ${JSON.stringify(orgId)}`);
  return `${encodeURIComponent(prefix)}${orgId}${SUFFIX}`;
}

/** Where the record of `orgId` lives in `dir`, for an installation with Redis key prefix `prefix`. */
export function recordPath(dir: string, prefix: string, orgId: string): string {
  return path.join(dir, fileName(prefix, orgId));
}

function parseLine(line: string, publicKey: KeyObject, orgId: string): RecordedCheckpoint | null {
  try {
    const note: unknown = JSON.parse(line);
    if (typeof note !== 'string') return null;
    const opened = openCheckpoint(note, publicKey, orgId);
    return { size: opened.size, hash: opened.hash, note };
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof CheckpointError) return null;
    throw error;
  }
}

/** Every checkpoint of the record that this instance signed, in the order they were appended (none: no file). */
export async function readCheckpointRecord(dir: string, prefix: string, publicKey: KeyObject, orgId: string): Promise<RecordedCheckpoint[]> {
  const reader = new CheckpointRecord(dir, prefix, publicKey);
  const all: RecordedCheckpoint[] = [];
  await reader.read(orgId, (checkpoint) => all.push(checkpoint));
  return all;
}

interface FileState {
  inode: number;
  offset: number;
  partial: string;
  highest: RecordedCheckpoint | null;
}

/** One process's view of the record directory: what it has read of each file, and appending to it. */
export class CheckpointRecord {
  readonly #files = new Map<string, FileState>();

  constructor(
    readonly dir: string,
    readonly prefix: string,
    readonly publicKey: KeyObject,
    readonly compactBytes = COMPACT_BYTES,
  ) {}

  path(orgId: string): string {
    return recordPath(this.dir, this.prefix, orgId);
  }

  /** The organizations this installation has a record of. */
  async orgIds(): Promise<string[]> {
    const names = await readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw error;
    });
    const start = encodeURIComponent(this.prefix);
    return names
      .filter((name) => name.startsWith(start) && name.endsWith(SUFFIX))
      .map((name) => name.slice(start.length, -SUFFIX.length))
      .filter((orgId) => ORG_ID.test(orgId));
  }

  /** The highest checkpoint in the record, having read what was appended since the last call (by anyone). */
  async highest(orgId: string): Promise<RecordedCheckpoint | null> {
    await this.read(orgId);
    return this.#files.get(orgId)?.highest ?? null;
  }

  /** Reads what was appended since the last read, handing each valid checkpoint to `each`. */
  async read(orgId: string, each?: (checkpoint: RecordedCheckpoint) => void): Promise<void> {
    const file = this.path(orgId);
    // Mostly nobody appended since the last read (a node reads its record every time it seals):
    // then one stat says so, without opening the file.
    const known = this.#files.get(orgId);
    if (known && !each) {
      const info = await stat(file).catch(() => null);
      if (info && info.ino === known.inode && info.size === known.offset) return;
    }
    const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (!handle) return;
    try {
      const info = await handle.stat();
      let state = this.#files.get(orgId);
      // Replaced (compacted) or cut short: read it again from the start; what was known stays known.
      if (!state || state.inode !== info.ino || info.size < state.offset) {
        state = { inode: info.ino, offset: 0, partial: '', highest: state?.highest ?? null };
        this.#files.set(orgId, state);
      }
      if (info.size === state.offset) return;
      const buffer = Buffer.alloc(info.size - state.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, state.offset);
      state.offset += bytesRead;
      const lines = (state.partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
      state.partial = lines.pop()!;
      for (const line of lines) {
        const checkpoint = line ? parseLine(line, this.publicKey, orgId) : null;
        if (!checkpoint) continue;
        each?.(checkpoint);
        if (!state.highest || checkpoint.size > state.highest.size) state.highest = checkpoint;
      }
    } finally {
      await handle.close();
    }
  }

  /** Appends a checkpoint (one write, synced to disk), then compacts the file when it grew large. */
  async append(orgId: string, checkpoint: RecordedCheckpoint): Promise<void> {
    const file = this.path(orgId);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const handle = await open(file, 'a+', 0o600);
    let size: number;
    try {
      // After a torn line, start a new one, so this one is not lost with it.
      const before = (await handle.stat()).size;
      const last = Buffer.alloc(1);
      if (before > 0) await handle.read(last, 0, 1, before - 1);
      const line = `${before > 0 && last[0] !== 0x0a ? '\n' : ''}${JSON.stringify(checkpoint.note)}\n`;
      await handle.write(line);
      await handle.datasync();
      size = (await handle.stat()).size;
    } finally {
      await handle.close();
    }
    const state = this.#files.get(orgId);
    if (state && (!state.highest || checkpoint.size > state.highest.size)) state.highest = checkpoint;
    if (size > this.compactBytes) await this.#compact(orgId, file);
  }

  /**
   * Replaces the file by one holding its highest checkpoint (written aside, synced, renamed over).
   * A line another process appends to the old file meanwhile is lost from the file, not from that
   * process, which appends it again when it learns a newer one; nothing is ever lowered.
   */
  async #compact(orgId: string, file: string): Promise<void> {
    const highest = await this.highest(orgId);
    if (!highest) return;
    const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(aside, 'wx', 0o600);
    try {
      await handle.write(`${JSON.stringify(highest.note)}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(aside, file);
  }
}
