// Escalation of a waiting request (SPEC §4 "a policy may name backup approvers notified after a
// wait"): halfway through its policy's wait, the approvers who are online are nudged in the console;
// at the end, the backup approvers are told on every channel and may decide from then on. Each step
// is a change of the request, committed over the version read, so a step that two nodes (or a job
// and the reconciler) run at once happens once; a step that is no longer due does nothing.
import type { AuditActor, PersonRef } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import { commitRequestChange, systemActing } from './lifecycle.js';

const ESCALATION_ACTOR: AuditActor = { type: 'system', id: 'escalation', name: 'Escalation' };

/** Who is online in an organization now (the node's presence; injected so signing stays below realtime). */
export type OnlineUsers = (orgId: string) => Promise<Array<{ userId: string }>>;

/**
 * Runs the escalation step of a request that is due: the nudge, or the escalation (which makes a
 * nudge not yet sent moot). A delayed job names its step and may fire up to `leewayMs` before this
 * node's clock says its time has come (clocks of nodes differ a little); the leeway counts for
 * that step only.
 */
export async function runEscalationStep(
  signet: Signet,
  orgId: string,
  requestId: string,
  online: OnlineUsers,
  job?: { step: 'nudge' | 'escalate'; leewayMs: number },
): Promise<string> {
  const stored = await signet.store.requests.get(orgId, requestId);
  if (!stored) return 'gone';
  const request = stored.value;
  const escalation = request.escalation;
  if (request.workflowStatus !== 'WaitingForApproval' || !escalation || escalation.escalatedAt) return 'not waiting';
  const now = Date.now();
  const leeway = (step: 'nudge' | 'escalate') => (job?.step === step ? job.leewayMs : 0);
  const policy = (await signet.store.policies.get(request.orgId, request.policyId))?.value ?? null;
  const members = new Map((await signet.store.members.list(request.orgId)).map((m) => [m.userId, m]));
  const person = (userId: string): PersonRef[] => {
    const member = members.get(userId);
    return member && member.kind === 'user' ? [{ userId, name: member.name }] : [];
  };
  const decided = new Set([...request.approvals, ...request.denials].map((d) => d.userId));
  const undecided = (userId: string) => userId !== request.submitterId && !decided.has(userId);
  const at = new Date().toISOString();
  const acting = systemActing(signet, orgId, ESCALATION_ACTOR);

  if (now + leeway('escalate') >= Date.parse(escalation.escalateAt)) {
    const backups = (policy?.backupApprovers ?? []).filter(undecided).flatMap(person);
    await commitRequestChange(signet, acting, {
      before: stored,
      after: { ...request, updatedAt: at, escalation: { ...escalation, escalatedAt: at, backups } },
      policy,
      actorUserId: null,
      action: 'request.escalate',
      change: 'escalated',
      changes: { escalatedTo: { before: null, after: backups.map((b) => b.name) } },
    });
    return 'escalated';
  }
  if (now + leeway('nudge') >= Date.parse(escalation.nudgeAt) && !escalation.nudgedAt) {
    const here = new Set((await online(request.orgId)).map((entry) => entry.userId));
    const nudged = (policy?.approvers ?? []).filter((id) => undecided(id) && here.has(id)).flatMap(person);
    await commitRequestChange(signet, acting, {
      before: stored,
      after: { ...request, updatedAt: at, escalation: { ...escalation, nudgedAt: at, nudged } },
      policy,
      actorUserId: null,
      action: 'request.nudge',
      change: 'nudged',
      changes: { nudged: { before: null, after: nudged.map((n) => n.name) } },
    });
    return 'nudged';
  }
  return 'not yet';
}
