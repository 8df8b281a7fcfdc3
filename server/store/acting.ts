// The one way anything writes: an acting context. Whoever changes state — a command, the signing
// worker, a CLI operator, a sign-in, setup, the node's own watches — commits through one of these,
// which carries who acts (the audit actor), in which organization and from where (the source), and
// writes each change with its audit entries and events in one atomic commit (commit.ts). Nothing
// else builds audit entries or calls the commit.
import type { AuditActor } from '../../src/lib/shared/entities.js';
import { auditDraft, type AuditChanges, type AuditSource, type AuditTarget } from '../audit/entries.js';
import type { AuditEntry } from '../../src/lib/shared/entities.js';
import { PreconditionFailed, type AccessScope, type CommitPlan, type Committed, type PlannedEvent } from './commit.js';
import { conflict } from '../errors.js';

/** One audit entry a change writes. */
export interface Audited {
  target: AuditTarget;
  changes?: AuditChanges;
  /** Defaults to the acting context's action (a command's name). */
  action?: string;
  /** Defaults to the acting context's organization (an organization's creation is audited in the instance log as well). */
  orgId?: string;
  outcome?: AuditEntry['outcome'];
  reason?: string;
}

/** A change as a writer states it: what the store planned (preconditions, writes, events) and what it audits. */
export interface Change extends Audited {
  expect?: CommitPlan['expect'];
  ops?: CommitPlan['ops'];
  events?: PlannedEvent[];
  /** Further entries the same commit writes (keys revoked along with the one named, the instance log's copy). */
  alsoAudited?: Audited[];
  /**
   * The live sockets whose access this change takes away or alters: every node re-checks them
   * before it delivers anything committed after this, and the change is acknowledged once the
   * nodes confirm (SPEC §7: revocation is immediate).
   */
  access?: AccessScope[];
}

export interface ActingContext {
  readonly orgId: string;
  readonly actor: AuditActor;
  readonly source: AuditSource;
  /** Commits the change with its audit entries and events in one atomic write; a stale precondition is CONFLICT. */
  commit(change: Change): Promise<Committed>;
}

export interface Acting {
  orgId: string;
  actor: AuditActor;
  source: AuditSource;
  /** The action entries are written under unless a change names its own (a command's name). */
  action?: string;
  /** The live connection whose command this is: should the change take its access away, it gets its acknowledgement first. */
  socketId?: string;
}

/** What commits: the runtime's `apply` (signet.ts), or a command attempt's fenced one (commands/attempt.ts). */
export type Apply = (plan: CommitPlan) => Promise<Committed>;

export function actingContext(apply: Apply, acting: Acting): ActingContext {
  const { orgId, actor, source, socketId } = acting;
  const draft = (audited: Audited, fallbackAction: string | undefined) => {
    const action = audited.action ?? fallbackAction;
    if (!action) throw new Error(`an audit entry for ${audited.target.type} ${audited.target.id} names no action`);
    return auditDraft({
      orgId: audited.orgId ?? orgId,
      actor,
      action,
      target: audited.target,
      changes: audited.changes,
      outcome: audited.outcome,
      reason: audited.reason,
      source,
    });
  };
  return {
    orgId,
    actor,
    source,
    async commit(change) {
      const action = change.action ?? acting.action;
      const audits = [draft(change, acting.action), ...(change.alsoAudited ?? []).map((also) => draft(also, action))];
      const access = change.access?.length ? { scopes: change.access, ...(socketId ? { callerSocketId: socketId } : {}) } : undefined;
      try {
        return await apply({ expect: change.expect, ops: change.ops, events: change.events, audits, access });
      } catch (error) {
        if (error instanceof PreconditionFailed) {
          const failure = conflict(`${change.target.type} "${change.target.name}" was changed by someone else meanwhile; reload and try again`);
          failure.concurrentChange = true;
          throw failure;
        }
        throw error;
      }
    },
  };
}
