// Certificates about to expire (issue 11): certificate admins (everyone with certificate:write) hear
// about it 30, 7 and 1 days before, and when it has expired — each notice once. Every node sweeps
// periodically; a notice is committed together with a marker in Redis (the most urgent notice sent
// for that certificate), on the condition that the marker is still what the sweep read, so two
// nodes, or a node after a restart, never send one twice. A certificate that is already past a
// threshold when first seen (say, one valid for 5 days) gets only the most urgent notice due.
import type { AuditActor } from '../../src/lib/shared/entities.js';
import { roleHas } from '../../src/lib/shared/permissions.js';
import type { Signet } from '../signet.js';
import type { CertificateRecord } from '../store/records.js';
import { combinePlans } from '../store/plan.js';
import { planOutreach } from '../outreach/plan.js';
import { CommandFailure } from '../errors.js';
import { systemActing } from './lifecycle.js';

/** Days before expiry at which admins hear about it; 0: it has expired. Most urgent last. */
const EXPIRY_NOTICE_DAYS = [30, 7, 1, 0] as const;
const DAY_MS = 24 * 60 * 60 * 1000;
const ACTOR: AuditActor = { type: 'system', id: 'certificate-expiry', name: 'Certificate expiry' };

/** The most urgent notice due at `now`, or null while the certificate has more than 30 days. */
function noticeDue(notAfter: string, now: Date): number | null {
  const left = Date.parse(notAfter) - now.getTime();
  if (left <= 0) return 0;
  let due: number | null = null;
  for (const days of EXPIRY_NOTICE_DAYS) if (days > 0 && left <= days * DAY_MS) due = days;
  return due;
}

function notice(certificate: CertificateRecord, days: number, now: Date) {
  const when = certificate.notAfter!.slice(0, 10);
  if (days === 0) {
    return {
      kind: 'certificate.expired',
      title: `Certificate expired: ${certificate.name}`,
      body: `The certificate "${certificate.name}" (${certificate.slug}) expired on ${when}; requests under policies that use it fail until they use another.`,
    };
  }
  const left = Math.max(1, Math.ceil((Date.parse(certificate.notAfter!) - now.getTime()) / DAY_MS));
  return {
    kind: 'certificate.expiring',
    title: `Certificate expires in ${left} day${left === 1 ? '' : 's'}: ${certificate.name}`,
    body: `The certificate "${certificate.name}" (${certificate.slug}) expires on ${when}. Renew it and point the signing policies that use it to the new one.`,
  };
}

/** Sends the notices due at `now` (a clock of the caller's, for tests); returns how many certificates got one. */
export async function sweepCertificateExpiry(signet: Signet, now: Date = new Date()): Promise<number> {
  const { store } = signet;
  let sent = 0;
  for (const org of await store.organizations.list()) {
    if (org.deletedAt) continue;
    const orgId = org.id;
    const due = (await store.certificates.list(orgId))
      .filter((certificate) => !certificate.disabled && !certificate.awaitingCertificate && certificate.notAfter)
      .map((certificate) => ({ certificate, days: noticeDue(certificate.notAfter!, now) }))
      .filter((entry): entry is { certificate: CertificateRecord; days: number } => entry.days !== null);
    if (due.length === 0) continue;
    const admins = (await store.members.list(orgId)).filter((member) => member.kind === 'user' && roleHas(member.role, 'certificate:write'));
    const acting = systemActing(signet, orgId, ACTOR);
    for (const { certificate, days } of due) {
      const sentBefore = await store.certificates.expiryNoticeSent(certificate);
      if (sentBefore !== null && sentBefore <= days) continue;
      const note = { ...notice(certificate, days, now), link: '/certificates' };
      // Their inbox only: the sweep has never mailed.
      const outreach = await planOutreach(signet, { orgId, people: admins.map((member) => ({ member, note, inboxOnly: true })) });
      try {
        await acting.commit({
          action: days === 0 ? 'certificate.expired' : 'certificate.expiring',
          target: { type: 'certificate', id: certificate.id, name: certificate.name },
          changes: { expiryNotice: { before: sentBefore, after: days }, notified: { before: null, after: admins.length } },
          ...combinePlans(store.certificates.expiryNoticed(certificate, sentBefore, days), { expect: [], ops: outreach.ops, events: outreach.events }),
        });
        sent += 1;
      } catch (error) {
        if (!(error instanceof CommandFailure && error.concurrentChange)) throw error; // another node sent it meanwhile
      }
    }
  }
  return sent;
}

/** Sweeps soon after start and then every SIGNET_CERT_EXPIRY_SWEEP_MINUTES (0: never); returns the stop function. */
export function startCertificateExpirySweep(signet: Signet): () => void {
  const minutes = signet.config.SIGNET_CERT_EXPIRY_SWEEP_MINUTES;
  if (minutes === 0) return () => {};
  const sweep = () => void sweepCertificateExpiry(signet).catch((error: unknown) => signet.logger.warn({ err: error }, 'certificate expiry sweep failed; the next one tries again'));
  const first = setTimeout(sweep, 2_000);
  const timer = setInterval(sweep, minutes * 60_000);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
