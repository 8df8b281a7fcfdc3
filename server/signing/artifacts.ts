// Where artifacts and signatures live on disk: <artifact dir>/<org>/<request>/{artifact, and the
// signed output: signature.p7s (detached CMS), signed-artifact (Authenticode), signature.asc (OpenPGP)}.
// Several nodes need the same directory (a shared volume), since any node may sign any request.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';
import type { SignatureFormat } from '../../src/lib/shared/entities.js';

export function artifactPaths(config: Pick<Config, 'artifactDir'>, orgId: string, requestId: string) {
  const dir = path.join(config.artifactDir, orgId, requestId);
  return { dir, artifact: path.join(dir, 'artifact'), signature: path.join(dir, 'signature.p7s') };
}

const SIGNED_FILES: Record<SignatureFormat, string> = {
  'cms-detached': 'signature.p7s',
  authenticode: 'signed-artifact',
  'openpgp-detached': 'signature.asc',
};

/** Where the signed output of a request in `format` is kept. */
export function signedPath(config: Pick<Config, 'artifactDir'>, orgId: string, requestId: string, format: SignatureFormat): string {
  return path.join(artifactPaths(config, orgId, requestId).dir, SIGNED_FILES[format]);
}

export class UploadTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the artifact is larger than ${limit} bytes`);
  }
}

/** Streams an upload to `target`, computing its SHA-256 and size on the way; stops past `limit` bytes. */
export async function storeUpload(source: Readable, target: string, limit: number): Promise<{ size: number; sha256: string }> {
  await mkdir(path.dirname(target), { recursive: true });
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > limit) return callback(new UploadTooLarge(limit));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(target, { mode: 0o600 }));
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
  return { size, sha256: hash.digest('hex') };
}

/** Gives a re-submitted request its own copy of the original artifact (a hard link where possible). */
export async function copyArtifact(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  await link(from, to).catch(() => copyFile(from, to));
}

/** Writes a file so that readers see either nothing or all of it. */
export async function writeAtomically(target: string, data: Buffer): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  await writeFile(temporary, data, { mode: 0o600 });
  await rename(temporary, target);
}

export async function removeRequestFiles(config: Pick<Config, 'artifactDir'>, orgId: string, requestId: string): Promise<void> {
  await rm(artifactPaths(config, orgId, requestId).dir, { recursive: true, force: true });
}
