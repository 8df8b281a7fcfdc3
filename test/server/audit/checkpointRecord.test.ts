// A node's checkpoint record (server/audit/checkpointRecord.ts) on a real directory: shared by
// several writers, each sees what the others appended; torn lines and checkpoints of another
// instance are skipped; a large file is compacted to its highest checkpoint, and nothing is lowered.
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveAuditSigningKey } from '../../../server/audit/signingKey.js';
import { signCheckpoint } from '../../../server/audit/checkpointNote.js';
import { CheckpointRecord, readCheckpointRecord, recordPath } from '../../../server/audit/checkpointRecord.js';
import { removeDir, tempDir } from '../../helpers/signing.js';

const key = deriveAuditSigningKey(randomBytes(32));
const ORG = 'org-1';
const PREFIX = 'p1:';
const dirs: string[] = [];

function checkpoint(size: number, signer = key) {
  const hash = randomBytes(32).toString('hex');
  return { size, hash, note: signCheckpoint(signer, `signet.test/signet/audit/${ORG}`, size, hash) };
}

function scratch(): string {
  const dir = tempDir('signet-record-');
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

describe('the checkpoint record', () => {
  it('is shared by several writers: each reads what the others appended', async () => {
    const dir = scratch();
    const one = new CheckpointRecord(dir, PREFIX, key.publicKey);
    const two = new CheckpointRecord(dir, PREFIX, key.publicKey);
    expect(await one.highest(ORG)).toBeNull();
    await one.append(ORG, checkpoint(5));
    const seven = checkpoint(7);
    await two.append(ORG, seven);
    await one.append(ORG, checkpoint(6));
    expect(await one.highest(ORG)).toEqual(seven);
    expect(await two.highest(ORG)).toEqual(seven);
    expect(await one.orgIds()).toEqual([ORG]);
    // Another installation (Redis prefix) in the same directory has records of its own.
    expect(await new CheckpointRecord(dir, 'p2:', key.publicKey).orgIds()).toEqual([]);
    expect((await readCheckpointRecord(dir, PREFIX, key.publicKey, ORG)).map((c) => c.size)).toEqual([5, 7, 6]);
  });

  it('skips torn lines and checkpoints another instance signed, and loses nothing appended after them', async () => {
    const dir = scratch();
    const record = new CheckpointRecord(dir, PREFIX, key.publicKey);
    await record.append(ORG, checkpoint(3));
    appendFileSync(recordPath(dir, PREFIX, ORG), `${JSON.stringify(checkpoint(90, deriveAuditSigningKey(randomBytes(32))).note)}\n"torn`);
    const four = checkpoint(4);
    await record.append(ORG, four);
    expect((await readCheckpointRecord(dir, PREFIX, key.publicKey, ORG)).map((c) => c.size)).toEqual([3, 4]);
    expect(await new CheckpointRecord(dir, PREFIX, key.publicKey).highest(ORG)).toEqual(four);
  });

  it('is compacted to its highest checkpoint once large, and readers keep what they knew', async () => {
    const dir = scratch();
    const writer = new CheckpointRecord(dir, PREFIX, key.publicKey, 2000);
    const reader = new CheckpointRecord(dir, PREFIX, key.publicKey);
    let highest = checkpoint(1);
    await writer.append(ORG, highest);
    expect(await reader.highest(ORG)).toEqual(highest);
    for (let size = 2; size <= 12; size += 1) {
      highest = checkpoint(size);
      await writer.append(ORG, highest);
    }
    const lines = readFileSync(recordPath(dir, PREFIX, ORG), 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeLessThan(11);
    expect(await reader.highest(ORG)).toEqual(highest);
    expect(await new CheckpointRecord(dir, PREFIX, key.publicKey).highest(ORG)).toEqual(highest);
    await writer.append(ORG, checkpoint(11));
    expect(await reader.highest(ORG)).toEqual(highest);
  });

  it('refuses a path that is not an organization id', () => {
    expect(() => recordPath('/tmp', PREFIX, '../../etc/passwd')).toThrow(/not an organization id/);
  });
});
