// Certificates: a record per certificate (its key sealed in it, or a handle into the token), the
// organization's set of them and its slug index, and the expiry notices sent (so each goes once).
// Reads are scoped to an organization and fill in the defaults of records stored before a field
// existed; what leaves the server is toCertificate's (no key material).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { toCertificate, withCertificateDefaults, type CertificateRecord } from './records.js';
import { changeEvent, CONFIG_READERS } from './events.js';
import { inOrg, overwrite, parseLoaded, readMany, type Loaded, type WritePlan } from './plan.js';
import { slugClaim } from './slugs.js';

/** The expiry notice kept per certificate and certificate body: a renewed certificate (another fingerprint) is noticed afresh. */
const noticeField = (certificate: CertificateRecord) => `${certificate.id}:${certificate.fingerprintSha256}`;

export function certificateStore(redis: Redis, keys: RedisKeys) {
  return {
    async get(orgId: string, certificateId: string): Promise<Loaded<CertificateRecord> | null> {
      const loaded = inOrg(parseLoaded<CertificateRecord>(await redis.get(keys.certificate(certificateId))), orgId);
      return loaded && { ...loaded, value: withCertificateDefaults(loaded.value) };
    },
    async list(orgId: string): Promise<CertificateRecord[]> {
      return (await readMany<CertificateRecord>(redis, (await redis.smembers(keys.certificates(orgId))).map(keys.certificate))).map(withCertificateDefaults);
    },
    /** The id of the organization's certificate of this slug, if any. */
    async idBySlug(orgId: string, slug: string): Promise<string | null> {
      return redis.hget(keys.certificateSlugs(orgId), slug);
    },
    async slugTaken(orgId: string, slug: string): Promise<boolean> {
      return (await redis.hexists(keys.certificateSlugs(orgId), slug)) === 1;
    },
    create(record: CertificateRecord): WritePlan {
      const slug = slugClaim(keys.certificateSlugs(record.orgId), record.slug, record.id);
      return {
        expect: slug.expect,
        ops: [['set', keys.certificate(record.id), JSON.stringify(record)], ['sadd', keys.certificates(record.orgId), record.id], ...slug.ops],
        events: [changeEvent(record.orgId, 'certificate', 'created', record.id, toCertificate(record), CONFIG_READERS)],
      };
    },
    update(stored: Loaded<CertificateRecord>, updated: CertificateRecord): WritePlan {
      return overwrite(keys.certificate(updated.id), stored, updated, [changeEvent(updated.orgId, 'certificate', 'updated', updated.id, toCertificate(updated), CONFIG_READERS)]);
    },
    /** The most urgent expiry notice sent for the certificate as it is now (days before expiry; 0: expired), or null. */
    async expiryNoticeSent(certificate: CertificateRecord): Promise<number | null> {
      const sent = await redis.hget(keys.certificateExpiryNotices(certificate.orgId), noticeField(certificate));
      return sent === null ? null : Number(sent);
    },
    /** Marks the notice `days` before expiry as sent, only if the one sent before is still `sentBefore` (so it goes once). */
    expiryNoticed(certificate: CertificateRecord, sentBefore: number | null, days: number): WritePlan {
      const markers = keys.certificateExpiryNotices(certificate.orgId);
      const field = noticeField(certificate);
      return {
        expect: [{ key: markers, field, equals: sentBefore === null ? null : String(sentBefore) }],
        ops: [['hset', markers, field, String(days)]],
        events: [],
      };
    },
  };
}

