// Signed audit checkpoints are C2SP signed notes (c2sp.org/signed-note) with a tlog-checkpoint body:
// byte for byte what the reference implementation writes, and opened only when this instance signed
// them for this organization.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveAuditSigningKey, ed25519KeyFromSeed } from '../../../server/audit/signingKey.js';
import { auditOrigin, CheckpointError, noteKeyId, noteVerifierKey, openCheckpoint, signCheckpoint, signNote } from '../../../server/audit/checkpointNote.js';
import { compareCheckpoints, parseCheckpointNote } from '../../../src/lib/shared/checkpoint.js';

// The example key and note of the Go reference implementation (golang.org/x/mod/sumdb/note).
const REFERENCE = {
  verifierKey: 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
  // PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 || seed)>
  seed: Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64').subarray(1),
  text: "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n",
  signatureLine: '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n',
};

const key = deriveAuditSigningKey(randomBytes(32));
const ORG = '7d3c9a8e-0f4b-4d6e-9a51-2b8c7e6f5a41';
const HEAD = 'ab'.repeat(32);

describe('signed notes', () => {
  it('signs and names keys exactly as the reference implementation does', () => {
    const reference = ed25519KeyFromSeed(REFERENCE.seed);
    expect(noteVerifierKey('PeterNeumann', reference.publicKey)).toBe(REFERENCE.verifierKey);
    expect(signNote(REFERENCE.text, 'PeterNeumann', reference)).toBe(`${REFERENCE.text}\n${REFERENCE.signatureLine}`);
  });
});

describe('audit checkpoints', () => {
  it('carry origin, size and chain head, signed by the origin key', () => {
    const origin = auditOrigin('https://signet.example.com:8443/', ORG);
    expect(origin).toBe(`signet.example.com:8443/signet/audit/${ORG}`);
    const note = signCheckpoint(key, origin, 1234, HEAD);
    const lines = note.split('\n');
    expect(lines.slice(0, 4)).toEqual([origin, '1234', Buffer.from(HEAD, 'hex').toString('base64'), '']);
    const [dash, name, signature] = lines[4]!.split(' ');
    expect([dash, name, lines.slice(5)]).toEqual(['\u2014', origin, ['']]);
    // 4-byte key ID, then the 64-byte Ed25519 signature.
    expect(Buffer.from(signature!, 'base64').subarray(0, 4)).toEqual(noteKeyId(origin, key.publicKey));
    expect(Buffer.from(signature!, 'base64')).toHaveLength(68);
    expect(openCheckpoint(note, key.publicKey, ORG)).toMatchObject({ origin, size: 1234, hash: HEAD });
  });

  it('are refused when altered, signed by another instance, or for another organization', () => {
    const note = signCheckpoint(key, auditOrigin('http://localhost:3000', ORG), 10, HEAD);
    expect(() => openCheckpoint(note.replace('\n10\n', '\n11\n'), key.publicKey, ORG)).toThrow(/signature is not valid/);
    const other = deriveAuditSigningKey(randomBytes(32));
    expect(() => openCheckpoint(note, other.publicKey, ORG)).toThrow(/not signed with this instance's audit key/);
    expect(() => openCheckpoint(note, key.publicKey, 'another-org')).toThrow(/for another log/);
    expect(() => openCheckpoint(note, key.publicKey, ORG)).not.toThrow();
  });

  it('name what is wrong with a malformed note', () => {
    const note = signCheckpoint(key, auditOrigin('http://localhost:3000', ORG), 10, HEAD);
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      [note.replace('\n\n', '\n'), /no blank line/],
      [note.slice(0, -1), /does not end with a newline/],
      [note.replace('\n10\n', '\n10\nextra\n'), /4 lines, not 3/],
      [note.replace('\n10\n', '\n010\n'), /not a size/],
      [note.replace(/\n([A-Za-z0-9+/=]{44})\n/, '\nAAAA\n'), /hash of 32 bytes/],
      [note.replace('\u2014 ', '-- '), /signature line/],
      [note.replace('\n10\n', '\n1\t0\n'), /control characters/],
    ];
    for (const [bad, problem] of cases) {
      expect(() => openCheckpoint(bad, key.publicKey, ORG)).toThrow(CheckpointError);
      expect(() => openCheckpoint(bad, key.publicKey, ORG)).toThrow(problem);
    }
  });

  it('compare: fewer entries is older, another head at the same size is a fork', () => {
    const at = (size: number, hash = HEAD) => parseCheckpointNote(signCheckpoint(key, auditOrigin('http://localhost', ORG), size, hash));
    expect(compareCheckpoints(at(10), at(10))).toBe('same');
    expect(compareCheckpoints(at(10), at(12))).toBe('newer');
    expect(compareCheckpoints(at(10), at(9))).toBe('older');
    expect(compareCheckpoints(at(10), at(10, 'cd'.repeat(32)))).toBe('fork');
  });
});
