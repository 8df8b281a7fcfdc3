// How the certificates page orders and describes certificates: what needs attention first (awaiting
// its CA certificate, then soonest to expire), with the days left.
import type { Certificate } from '$lib/shared/entities';

const DAY_MS = 86_400_000;

export interface Validity {
  text: string;
  tone: 'ok' | 'bad' | '';
}

/** Whole days until expiry (negative once expired), or null while the certificate is awaited. */
export function daysLeft(certificate: Certificate, now: number): number | null {
  return certificate.notAfter === null ? null : Math.floor((Date.parse(certificate.notAfter) - now) / DAY_MS);
}

export function validity(certificate: Certificate, now: number): Validity {
  if (certificate.awaitingCertificate || certificate.notAfter === null || certificate.notBefore === null) return { text: 'awaiting certificate', tone: '' };
  const days = daysLeft(certificate, now)!;
  if (Date.parse(certificate.notAfter) < now) return { text: days === -1 ? 'expired yesterday' : days < -1 ? `expired ${-days} days ago` : 'expired', tone: 'bad' };
  if (Date.parse(certificate.notBefore) > now) return { text: 'not yet valid', tone: 'bad' };
  const left = days === 0 ? 'expires today' : days === 1 ? '1 day left' : `${days} days left`;
  return { text: left, tone: days <= 30 ? 'bad' : 'ok' };
}

/** Awaiting a certificate first, then soonest to expire; disabled ones last. */
export function byUrgency(a: Certificate, b: Certificate): number {
  const rank = (certificate: Certificate) => (certificate.disabled ? 2 : certificate.awaitingCertificate ? 0 : 1);
  const expiry = (certificate: Certificate) => (certificate.notAfter === null ? -Infinity : Date.parse(certificate.notAfter));
  return rank(a) - rank(b) || expiry(a) - expiry(b) || a.name.localeCompare(b.name);
}
