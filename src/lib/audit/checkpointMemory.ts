// Every audit viewer's browser remembers the highest signed audit checkpoint it was shown, per
// organization (localStorage), and warns when it is later shown a lower one (SPEC §6): fewer
// entries than before, or another chain head at the same size. Someone who rolled back Redis cannot
// reach into this browser to lower what it remembers.
//
// The browser compares sizes and heads; it does not check the note's Ed25519 signature. The threat
// is a rollback in Redis, which replays checkpoints the instance really signed, so a signature check
// would pass them all; and the note reaches the browser from the server that also serves this code
// and checks the signature itself (server/audit/checkpointNote.ts) before sending it.
import { auditOriginPath, compareCheckpoints, parseCheckpointNote, type CheckpointPosition } from '$lib/shared/checkpoint';

export interface RememberedCheckpoint extends CheckpointPosition {
  /** When this browser was first shown it (ISO time). */
  seenAt: string;
}

export interface RollbackWarning {
  /** older: fewer entries than before; fork: another head at the same size; missing: no valid checkpoint now. */
  kind: 'older' | 'fork' | 'missing';
  remembered: RememberedCheckpoint;
  shown: CheckpointPosition | null;
}

const storageKey = (orgId: string) => `signet.audit.checkpoint.${orgId}`;

function read(storage: Storage, orgId: string): RememberedCheckpoint | null {
  try {
    const value = JSON.parse(storage.getItem(storageKey(orgId)) ?? 'null') as RememberedCheckpoint | null;
    return value && Number.isSafeInteger(value.size) && typeof value.hash === 'string' ? value : null;
  } catch {
    return null;
  }
}

function shownPosition(orgId: string, note: string | null): CheckpointPosition | null {
  if (!note) return null;
  try {
    const parsed = parseCheckpointNote(note);
    return parsed.origin.endsWith(auditOriginPath(orgId)) ? { size: parsed.size, hash: parsed.hash } : null;
  } catch {
    return null;
  }
}

/**
 * Compares the checkpoint the server shows now with the one this browser remembers; remembers it
 * when it is further along. Returns the warning to show, or null. What is remembered never goes down.
 */
export function rememberCheckpoint(storage: Storage, orgId: string, note: string | null, now = new Date()): RollbackWarning | null {
  const remembered = read(storage, orgId);
  const shown = shownPosition(orgId, note);
  if (!shown) return remembered ? { kind: 'missing', remembered, shown: null } : null;
  const order = remembered ? compareCheckpoints(remembered, shown) : 'newer';
  if (order === 'older' || order === 'fork') return { kind: order, remembered: remembered!, shown };
  if (order === 'newer') storage.setItem(storageKey(orgId), JSON.stringify({ ...shown, seenAt: now.toISOString() } satisfies RememberedCheckpoint));
  return null;
}
