// Every denied command writes an audit entry (SPEC §6), whichever path refused it.
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import type { AuditSource } from './entries.js';

/** `actor`: who was refused (an Actor), by organization and as the audit log names them. */
export async function auditDenial(signet: Pick<Signet, 'acting'>, actor: { orgId: string; audit: AuditActor }, action: string, reason: string, source: AuditSource): Promise<void> {
  const refused = signet.acting({ orgId: actor.orgId, actor: actor.audit, source, action });
  await refused.commit({ target: { type: 'command', id: action, name: action }, outcome: 'denied', reason });
}
