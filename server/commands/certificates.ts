// certificate.list, certificate.generate, certificate.import, certificate.update. The private key
// is sealed (AES-256-GCM under the master key, bound to the certificate id) before it is stored,
// and no result, event, log or audit entry ever carries it.
import { commandInputs } from '../../src/lib/shared/commands.js';
import { toCertificate, type CertificateRecord } from '../store/records.js';
import { randomId } from '../auth/secrets.js';
import { diffFields } from '../audit/entries.js';
import { sealPrivateKey } from '../signing/keyVault.js';
import { newOpenpgpKey } from '../signing/formats/openpgp.js';
import { describeCertificate, generateSelfSigned, importPem, importPkcs12, type CertificateMaterial } from '../signing/certificates.js';
import { assertVersion, changeEvent, commitEntityUpdate, CONFIG_READERS, defineCommand, type CommandContext } from './define.js';
import { conflict, invalid, notFound } from './errors.js';
import { assertNotOpenSourceRestricted, dropUndefined } from './projects.js';


async function storeCertificate(
  context: CommandContext,
  meta: { slug: string; name: string; type: 'test' | 'release'; source: 'generated' | 'imported' },
  material: CertificateMaterial,
) {
  const { actor, repos, commit, signet } = context;
  const { keys } = repos;
  if (await repos.redis.hexists(keys.certificateSlugs(actor.orgId), meta.slug)) {
    throw conflict(`A certificate with slug "${meta.slug}" exists already`);
  }
  const details = describeCertificate(material.certificatePem);
  const id = randomId();
  const record: CertificateRecord = {
    id,
    orgId: actor.orgId,
    ...meta,
    algorithm: details.algorithm,
    subject: details.subject,
    issuer: details.issuer,
    serialNumber: details.serialNumber,
    notBefore: details.notBefore,
    notAfter: details.notAfter,
    fingerprintSha256: details.fingerprintSha256,
    certificatePem: material.certificatePem,
    disabled: false,
    createdAt: new Date().toISOString(),
    version: 1,
    sealedPrivateKey: sealPrivateKey(signet.config.masterKey, material.privateKeyPkcs8, id),
    // For openpgp-detached signatures; certificates made before this get theirs on first use.
    ...(await newOpenpgpKey(signet.config, id, meta.name)),
  };
  const certificate = toCertificate(record);
  const { certificatePem: _pem, openpgpPublicKey: _openpgp, ...audited } = certificate;
  await commit({
    target: { type: 'certificate', id, name: record.name },
    changes: diffFields(null, audited),
    expect: [{ key: keys.certificateSlugs(actor.orgId), field: record.slug, equals: null }],
    ops: [
      ['set', keys.certificate(id), JSON.stringify(record)],
      ['sadd', keys.certificates(actor.orgId), id],
      ['hset', keys.certificateSlugs(actor.orgId), record.slug, id],
    ],
    events: [changeEvent(actor.orgId, 'certificate', 'created', id, certificate, CONFIG_READERS)],
  });
  return certificate;
}

export const listCertificates = defineCommand({
  name: 'certificate.list',
  input: commandInputs['certificate.list'],
  permission: 'config:read',
  async handler({ actor, repos }) {
    return (await repos.certificates(actor.orgId)).map(toCertificate).sort((a, b) => a.name.localeCompare(b.name));
  },
});

export const generateCertificate = defineCommand({
  name: 'certificate.generate',
  input: commandInputs['certificate.generate'],
  permission: 'certificate:write',
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'add certificates');
    const material = await generateSelfSigned({
      commonName: input.commonName,
      organization: input.organization,
      algorithm: input.algorithm,
      validDays: input.validDays,
      type: input.type,
    });
    return storeCertificate(context, { slug: input.slug, name: input.name, type: input.type, source: 'generated' }, material);
  },
});

export const importCertificate = defineCommand({
  name: 'certificate.import',
  input: commandInputs['certificate.import'],
  permission: 'certificate:write',
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
    return storeCertificate(context, { slug: input.slug, name: input.name, type: input.type, source: 'imported' }, material);
  },
});

export const updateCertificate = defineCommand({
  name: 'certificate.update',
  input: commandInputs['certificate.update'],
  permission: 'certificate:write',
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'edit certificates');
    const { actor, repos } = context;
    const stored = await repos.certificate(input.certificateId);
    if (!stored || stored.value.orgId !== actor.orgId) throw notFound(`Certificate ${input.certificateId}`);
    const record = stored.value;
    assertVersion(`Certificate ${record.name}`, input.version, record, toCertificate(record));
    const { certificateId: _id, version: _version, ...fields } = input;
    const updated: CertificateRecord = { ...record, ...dropUndefined(fields), version: record.version + 1 };
    const changed = await commitEntityUpdate(context, {
      entity: 'certificate',
      key: repos.keys.certificate(record.id),
      stored,
      updated,
      name: updated.name,
      audience: CONFIG_READERS,
      present: toCertificate,
      action: fields.disabled === true && !record.disabled ? 'certificate.disable' : undefined,
    });
    if (!changed) return toCertificate(record);
    return toCertificate(updated);
  },
});
