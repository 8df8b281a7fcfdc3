// Exporting the audit log as NDJSON through the REST endpoint, page by page (following
// X-Signet-Next-After), optionally keeping only entries that match the page's filters.
import type { AuditEntry } from '$lib/shared/entities';
import type { CommandAck } from '$lib/shared/commands';
import { ProtocolError, asProtocolError } from '$lib/protocol';
import { matchesFilter, type AuditFilter } from './filter';

export const EXPORT_PAGE = 10_000;

export function exportUrl(orgSlug: string, after = 0, limit = EXPORT_PAGE): string {
  return `/api/v1/orgs/${encodeURIComponent(orgSlug)}/audit?after=${after}&limit=${limit}`;
}

/** Fetches the whole log (or the entries matching `filter`) as one NDJSON blob. */
export async function fetchAuditNdjson(
  orgSlug: string,
  filter: AuditFilter | null,
  onProgress: (exported: number) => void,
): Promise<{ blob: Blob; count: number }> {
  const parts: string[] = [];
  let count = 0;
  let after = 0;
  for (;;) {
    let response: Response;
    try {
      response = await fetch(exportUrl(orgSlug, after), { credentials: 'same-origin' });
    } catch (error) {
      throw asProtocolError(error);
    }
    if (!response.ok) {
      const ack = (await response.json().catch(() => null)) as CommandAck | null;
      if (ack && !ack.ok) throw new ProtocolError(ack.error);
      throw new ProtocolError({ code: 'INTERNAL', message: `The export failed (HTTP ${response.status})` });
    }
    const text = await response.text();
    const lines = text.split('\n').filter((line) => line.length > 0);
    const kept = filter ? lines.filter((line) => matchesFilter(JSON.parse(line) as AuditEntry, filter)) : lines;
    if (kept.length > 0) parts.push(`${kept.join('\n')}\n`);
    count += kept.length;
    onProgress(count);
    const next = Number(response.headers.get('X-Signet-Next-After'));
    if (lines.length < EXPORT_PAGE || !Number.isFinite(next) || next <= after) break;
    after = next;
  }
  return { blob: new Blob(parts, { type: 'application/x-ndjson' }), count };
}

/** Hands a blob to the browser as a download. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
