// Every denied command writes an audit entry (SPEC §6), whichever path refused it.
import type { Actor } from '../auth/actor.js';
import type { Signet } from '../signet.js';
import { auditDraft, type AuditSource } from './entries.js';

export async function auditDenial(signet: Signet, actor: Actor, action: string, reason: string, source: AuditSource): Promise<void> {
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
