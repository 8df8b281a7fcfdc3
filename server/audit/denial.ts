// Every denied command writes an audit entry (SPEC §6), whichever path refused it.
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import { auditDraft, type AuditSource } from './entries.js';

/** `actor`: who was refused (an Actor), by organization and as the audit log names them. */
export async function auditDenial(signet: Signet, actor: { orgId: string; audit: AuditActor }, action: string, reason: string, source: AuditSource): Promise<void> {
  await signet.apply({
    audits: [
      auditDraft({
        orgId: actor.orgId,
        actor: actor.audit,
        action,
        target: { type: 'command', id: action, name: action },
        outcome: 'denied',
        reason,
        source,
      }),
    ],
  });
}
