// certificate.list, .generate, .generateCsr, .downloadCsr, .importIssued, .import, .update. A
// certificate's key lives in the custody chosen when it is generated: sealed in Redis (AES-256-GCM
// under the master key, bound to the certificate id) or inside the PKCS#11 token, of which the
// record keeps only the handle. No result, event, log or audit entry ever carries key material.
import type { KeyCustody } from '../../src/lib/shared/entities.js';
import { toCertificate, type CertificateRecord } from '../store/records.js';
import { randomId } from '../auth/secrets.js';
import { diffFields } from '../audit/entries.js';
import { sealPrivateKey } from '../store/keyVault.js';
import { newOpenpgpKey } from '../signing/formats/openpgp.js';
import {
  certificationRequest,
  describeCertificate,
  importPem,
  importPkcs12,
  matchIssuedCertificate,
  requestPublicKey,
  selfSignedCertificate,
  type CertificateMaterial,
} from '../signing/certificates.js';
import { generateCertificateKey, type NewKey } from '../signing/custody/keys.js';
import { TokenError } from '../signing/custody/token.js';
import { assertVersion, commitUpdate, defineCommand, KEY_GENERATION_DEADLINE_MS, type CommandContext } from './define.js';
import { CommandFailure, conflict, invalid, notFound } from '../errors.js';
import { assertNotOpenSourceRestricted, dropUndefined } from './projects.js';

/** The public parts of an issued certificate, as the record keeps them. */
function issuedFields(certificatePem: string) {
  const details = describeCertificate(certificatePem);
  return {
    algorithm: details.algorithm,
    subject: details.subject,
    issuer: details.issuer,
    serialNumber: details.serialNumber,
    notBefore: details.notBefore,
    notAfter: details.notAfter,
    fingerprintSha256: details.fingerprintSha256,
    certificatePem,
  };
}

async function assertSlugFree({ actor, store }: CommandContext, slug: string): Promise<void> {
  if (await store.certificates.slugTaken(actor.orgId, slug)) {
    throw conflict(`A certificate with slug "${slug}" exists already`);
  }
}

/** A certificate as its audit entries show it: the PEM and armored texts are long and public, the other fields say what they hold. */
function withoutPem(certificate: ReturnType<typeof toCertificate>) {
  const { certificatePem: _pem, chainPem: _chain, openpgpPublicKey: _openpgp, ...audited } = certificate;
  return audited;
}

/** Stores a new certificate: the slug must still be free when it commits. */
async function storeCertificate(context: CommandContext, certified: CertificateRecord) {
  const { store, commit, signet } = context;
  // For openpgp-detached signatures; certificates made before this get theirs on first use.
  const record: CertificateRecord = { ...certified, ...(await newOpenpgpKey(signet.config, certified.id, certified.name)) };
  const certificate = toCertificate(record);
  await commit({
    target: { type: 'certificate', id: record.id, name: record.name },
    changes: diffFields(null, withoutPem(certificate)),
    ...store.certificates.create(record),
  });
  return certificate;
}

function newRecord(
  context: CommandContext,
  id: string,
  meta: { slug: string; name: string; type: 'test' | 'release'; source: CertificateRecord['source']; custody: KeyCustody },
  fields: Pick<CertificateRecord, 'algorithm' | 'subject'> & Partial<CertificateRecord>,
): CertificateRecord {
  return {
    id,
    orgId: context.actor.orgId,
    ...meta,
    awaitingCertificate: false,
    issuer: null,
    serialNumber: null,
    notBefore: null,
    notAfter: null,
    fingerprintSha256: null,
    certificatePem: null,
    chainPem: null,
    warnings: [],
    disabled: false,
    createdAt: new Date().toISOString(),
    version: 1,
    ...fields,
  };
}

/** A key in the chosen custody; a token that is missing or refuses becomes a clear error. */
async function generateKey(context: CommandContext, custody: KeyCustody, algorithm: Parameters<typeof generateCertificateKey>[2], id: string): Promise<NewKey> {
  try {
    return await generateCertificateKey(context.signet.config, custody, algorithm, id);
  } catch (error) {
    throw tokenFailure(error);
  }
}

function tokenFailure(error: unknown): unknown {
  if (error instanceof TokenError) {
    if (/no PKCS#11 token is available/.test(error.message)) return invalid('custody', error.message);
    return new CommandFailure('UNAVAILABLE', `The PKCS#11 token is unavailable: ${error.message}`);
  }
  // What the token itself answered (a CKR_… code: out of memory, device error, …).
  if (error instanceof Error && error.name === 'Pkcs11Error') return new CommandFailure('UNAVAILABLE', `The PKCS#11 token refused: ${error.message}`);
  return error;
}

/**
 * Certifies a new key (self-signed or a CSR) and stores the certificate; a token key whose
 * certificate could not be stored is removed from the token again.
 */
async function withNewKey(
  context: CommandContext,
  input: { slug: string; custody: KeyCustody; algorithm: Parameters<typeof generateCertificateKey>[2] },
  store: (key: NewKey, id: string) => Promise<ReturnType<typeof toCertificate>>,
) {
  await assertSlugFree(context, input.slug);
  const id = randomId();
  const key = await generateKey(context, input.custody, input.algorithm, id);
  try {
    return await store(key, id);
  } catch (error) {
    await key.discard().catch((cleanup: unknown) => context.signet.logger.warn({ err: cleanup, certificateId: id }, 'could not remove an unused token key'));
    throw tokenFailure(error);
  } finally {
    key.signer.close();
  }
}

async function certificateInOrg({ actor, store }: CommandContext, certificateId: string) {
  const stored = await store.certificates.get(actor.orgId, certificateId);
  if (!stored) throw notFound(`Certificate ${certificateId}`);
  return stored;
}

/** A certificate of this organization that may be edited here, as read at the version the client names. */
async function certificateToEdit(context: CommandContext, input: { certificateId: string; version: number }) {
  assertNotOpenSourceRestricted(context, 'edit certificates');
  const stored = await certificateInOrg(context, input.certificateId);
  assertVersion(`Certificate ${stored.value.name}`, input.version, stored.value, toCertificate(stored.value));
  return stored;
}

export const listCertificates = defineCommand({
  name: 'certificate.list',
  async handler({ actor, store }) {
    return (await store.certificates.list(actor.orgId)).map(toCertificate).sort((a, b) => a.name.localeCompare(b.name));
  },
});

export const generateCertificate = defineCommand({
  name: 'certificate.generate',
  deadlineMs: KEY_GENERATION_DEADLINE_MS,
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'add certificates');
    return withNewKey(context, input, async (key, id) => {
      const certificatePem = await selfSignedCertificate(key, {
        commonName: input.commonName,
        organization: input.organization,
        validDays: input.validDays,
        type: input.type,
      });
      const meta = { slug: input.slug, name: input.name, type: input.type, source: 'generated' as const, custody: key.custody };
      return storeCertificate(context, newRecord(context, id, meta, { ...issuedFields(certificatePem), ...key.stored }));
    });
  },
});

export const generateCsr = defineCommand({
  name: 'certificate.generateCsr',
  deadlineMs: KEY_GENERATION_DEADLINE_MS,
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'add certificates');
    return withNewKey(context, input, async (key, id) => {
      const { csrPem, subject } = await certificationRequest(key, input);
      const meta = { slug: input.slug, name: input.name, type: input.type, source: 'requested' as const, custody: key.custody };
      return storeCertificate(context, newRecord(context, id, meta, { algorithm: input.algorithm, subject, awaitingCertificate: true, csrPem, ...key.stored }));
    });
  },
});

export const downloadCsr = defineCommand({
  name: 'certificate.downloadCsr',
  async handler(context, input) {
    const { value: record } = await certificateInOrg(context, input.certificateId);
    if (!record.csrPem) throw invalid('certificateId', `certificate "${record.name}" was not made from a certificate signing request`);
    // Audited: who took the request to a CA, and when.
    await context.commit({ target: { type: 'certificate', id: record.id, name: record.name } });
    return { fileName: `${record.slug}.csr`, csrPem: record.csrPem };
  },
});

export const importIssuedCertificate = defineCommand({
  name: 'certificate.importIssued',
  async handler(context, input) {
    const stored = await certificateToEdit(context, input);
    const record = stored.value;
    if (!record.awaitingCertificate || !record.csrPem) {
      throw invalid('certificateId', `certificate "${record.name}" is not awaiting a certificate from a CA`);
    }
    let issued;
    try {
      issued = matchIssuedCertificate(input.certificatePem, requestPublicKey(record.csrPem));
    } catch (error) {
      throw invalid('certificatePem', error instanceof Error ? error.message : 'cannot be read');
    }
    const updated: CertificateRecord = {
      ...record,
      ...issuedFields(issued.certificatePem),
      chainPem: issued.chainPem,
      warnings: issued.warnings,
      awaitingCertificate: false,
      version: record.version + 1,
    };
    const certificate = toCertificate(updated);
    await context.commit({
      target: { type: 'certificate', id: record.id, name: record.name },
      // The PEM texts are long and public: the audit entry names what they say instead.
      changes: diffFields(withoutPem(toCertificate(record)), withoutPem(certificate)),
      ...context.store.certificates.update(stored, updated),
    });
    return certificate;
  },
});

export const importCertificate = defineCommand({
  name: 'certificate.import',
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'add certificates');
    let material: CertificateMaterial;
    try {
      material =
        input.format === 'pem'
          ? await importPem(input.certificatePem, input.privateKeyPem, input.passphrase)
          : await importPkcs12(Buffer.from(input.pkcs12Base64, 'base64'), input.password);
    } catch (error) {
      // The library's message says what is wrong (wrong password, key does not match, …); never the secret.
      const message = error instanceof Error ? error.message : 'cannot be read';
      const field =
        input.format === 'pem'
          ? /passphrase/i.test(message) ? 'passphrase' : 'privateKeyPem'
          : /password/i.test(message) ? 'password' : 'pkcs12Base64';
      throw invalid(field, message);
    }
    await assertSlugFree(context, input.slug);
    const id = randomId();
    const meta = { slug: input.slug, name: input.name, type: input.type, source: 'imported' as const, custody: 'software' as const };
    const sealedPrivateKey = sealPrivateKey(context.signet.config.masterKey, material.privateKeyPkcs8, id);
    return storeCertificate(context, newRecord(context, id, meta, { ...issuedFields(material.certificatePem), sealedPrivateKey }));
  },
});

export const updateCertificate = defineCommand({
  name: 'certificate.update',
  async handler(context, input) {
    const stored = await certificateToEdit(context, input);
    const record = stored.value;
    const { certificateId: _id, version: _version, ...fields } = input;
    const updated: CertificateRecord = { ...record, ...dropUndefined(fields), version: record.version + 1 };
    const changed = await commitUpdate(context, {
      entity: 'certificate',
      stored,
      updated,
      name: updated.name,
      plan: context.store.certificates.update(stored, updated),
      present: toCertificate,
      action: fields.disabled === true && !record.disabled ? 'certificate.disable' : undefined,
    });
    if (!changed) return toCertificate(record);
    return toCertificate(updated);
  },
});
