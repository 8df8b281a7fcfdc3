// The one door to the signature formats: sign a stored artifact in its request's format, with the
// policy's certificate (through its KeySigner for CMS and Authenticode, its OpenPGP key for
// OpenPGP) and the policy's timestamping, into the request's signed file.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { SignatureFormat } from '../../../src/lib/shared/entities.js';
import type { Signet } from '../../signet.js';
import type { CertificateRecord, PolicyRecord } from '../../store/records.js';
import { openSigner } from '../custody/signer.js';
import { signDetached } from '../cms.js';
import { writeAtomically } from '../artifacts.js';
import { AuthenticodeFailed, signAuthenticode } from './authenticode.js';
import { ensureOpenpgpKey, signOpenpgpDetached } from './openpgp.js';
import { timestampPlan, type TimestampResult } from './timestamping.js';
import { splitPemCertificates } from './signedData.js';
import { TimestampUnavailable } from './timestamp.js';

/** The file cannot be signed as asked (or the TSA failed it): the request fails with this reason. */
export function isFormatRefusal(error: unknown): error is Error {
  return error instanceof AuthenticodeFailed || error instanceof TimestampUnavailable || error instanceof AwaitingCertificate;
}

export interface SignArtifactInput {
  format: SignatureFormat;
  fileName: string;
  artifact: string;
  artifactSha256: Buffer;
  output: string;
  certificate: CertificateRecord;
  policy: PolicyRecord;
}

/** The chain a CA-issued certificate carries along, where its record keeps one. */
function chainOf(certificate: CertificateRecord): string[] {
  return certificate.chainPem ? splitPemCertificates(certificate.chainPem) : [];
}

/** A certificate still awaiting its CA certificate cannot sign (the worker refuses it earlier, with certificateProblem). */
class AwaitingCertificate extends Error {}

export async function signArtifact(signet: Signet, input: SignArtifactInput): Promise<TimestampResult> {
  if (input.format === 'openpgp-detached') {
    const certificate = await ensureOpenpgpKey(signet, input.certificate);
    await writeAtomically(input.output, await signOpenpgpDetached(signet.config, certificate, input.artifact));
    return { timestamp: null, noTimestampReason: 'OpenPGP signatures carry their own signing time, not an RFC 3161 timestamp' };
  }
  const { certificatePem } = input.certificate;
  if (!certificatePem) throw new AwaitingCertificate(`the certificate "${input.certificate.name}" is still awaiting its certificate from the CA`);
  const result: TimestampResult = { timestamp: null, noTimestampReason: null };
  const plan = timestampPlan(signet, input.policy);
  const signer = await openSigner(signet.config, input.certificate);
  try {
    if (input.format === 'cms-detached') {
      const signature = await signDetached({
        certificatePem,
        chainPems: chainOf(input.certificate),
        signer,
        contentSha256: input.artifactSha256,
        timestamp: (signatureValue) => plan.obtain(signatureValue, result),
      });
      await writeAtomically(input.output, signature);
      return result;
    }
    const workDir = await mkdtemp(path.join(path.dirname(input.output), '.authenticode-'));
    try {
      return await signAuthenticode({
        certificatePem,
        chainPems: chainOf(input.certificate),
        signer,
        fileName: input.fileName,
        input: input.artifact,
        output: input.output,
        workDir,
        timestamp: plan,
      });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  } finally {
    signer.close();
  }
}
