// Signed audit checkpoints (SPEC §6): a C2SP signed note (c2sp.org/signed-note) whose text has the
// shape of a transparency-log checkpoint (c2sp.org/tlog-checkpoint):
//
//   signet.example.com/signet/audit/<orgId>     origin: the log's identity
//   1234                                        size: how many entries the chain head covers
//   q6mZ…=                                      the chain head after entry 1234, base64 (32 bytes)
//
//   — signet.example.com/signet/audit/<orgId> <base64(4-byte key ID || Ed25519 signature)>
//
// The third line is the head of Signet's linear SHA-256 chain, not an RFC 6962 Merkle root. Parsing
// is shared: the server also checks signatures (server/audit/checkpointNote.ts); a browser compares
// what it is shown with what it remembers.

export interface CheckpointNote {
  /** The signed text: the body lines, each ending in a newline. */
  text: string;
  origin: string;
  size: number;
  /** The chain head after entry `size`, as hex (as the chain stores it; the note carries base64). */
  hash: string;
  signatures: Array<{ keyName: string; signature: string }>;
}

/** The origin path of an organization's audit log; the origin is `<public host>` followed by it. */
export function auditOriginPath(orgId: string): string {
  return `/signet/audit/${orgId}`;
}

export class CheckpointFormatError extends Error {}

/** Far more than any checkpoint needs (the signed-note spec asks verifiers for a bound). */
const MAX_NOTE_CHARS = 8192;
const MAX_SIGNATURES = 16;
const SIZE = /^(0|[1-9][0-9]{0,15})$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_NAME = /^[^\s+]+$/u;

function base64Bytes(text: string): Uint8Array | null {
  if (!BASE64.test(text) || text.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

export function hexToBase64(hex: string): string {
  let binary = '';
  for (let i = 0; i < hex.length; i += 2) binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return btoa(binary);
}

/**
 * Parses a signed checkpoint note. Checks its form only (say so in a message that names the
 * problem); whether a signature is the instance's is for the server to check.
 */
export function parseCheckpointNote(note: string): CheckpointNote {
  const fail = (problem: string): never => {
    throw new CheckpointFormatError(`not a signed checkpoint note: ${problem}`);
  };
  if (typeof note !== 'string' || note.length === 0) fail('it is empty');
  if (note.length > MAX_NOTE_CHARS) fail(`it is longer than ${MAX_NOTE_CHARS} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) fail('it holds control characters (a note has only newlines)');
  if (!note.endsWith('\n')) fail('it does not end with a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) fail('there is no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length !== 3) fail(`its text has ${lines.length} lines, not 3 (origin, size, hash)`);
  const [origin, sizeLine, hashLine] = lines as [string, string, string];
  if (!origin || !KEY_NAME.test(origin)) fail('the origin line is empty or holds spaces or "+"');
  if (!SIZE.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) fail('the second line is not a size');
  const hashBytes = base64Bytes(hashLine);
  if (!hashBytes || hashBytes.length !== 32) fail('the third line is not a base64 hash of 32 bytes');
  const signatureLines = note.slice(split + 2, -1).split('\n');
  if (signatureLines.length > MAX_SIGNATURES) fail(`it has more than ${MAX_SIGNATURES} signatures`);
  const signatures = signatureLines.map((line) => {
    const match = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!match || !KEY_NAME.test(match[1]!)) return fail('a signature line is not "— <key name> <base64 signature>"');
    const bytes = base64Bytes(match[2]!);
    if (!bytes || bytes.length < 5) return fail('a signature is not base64 of a key ID and a signature');
    return { keyName: match[1]!, signature: match[2]! };
  });
  const hash = Array.from(hashBytes!, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return { text, origin, size: Number(sizeLine), hash, signatures };
}

/** A checkpoint as remembered and compared: how many entries, and the head after them. */
export interface CheckpointPosition {
  size: number;
  hash: string;
}

/**
 * How a checkpoint one is shown stands against one remembered. `older`: fewer entries than seen
 * before (entries were removed); `fork`: as many entries but another head (the log was rewritten).
 * `newer` says only that it is longer: whether it extends the remembered one needs the chain.
 */
export function compareCheckpoints(remembered: CheckpointPosition, shown: CheckpointPosition): 'same' | 'newer' | 'older' | 'fork' {
  if (shown.size < remembered.size) return 'older';
  if (shown.size > remembered.size) return 'newer';
  return shown.hash === remembered.hash ? 'same' : 'fork';
}
