// The per-object rules (src/lib/shared/rules.ts) the server enforces and the console shows, as the
// spec states them (SPEC §3, §4): who decides on, cancels and re-submits which request, who changes
// which member, who sees and revokes which API key, who a policy may name.
import { describe, expect, it } from 'vitest';
import type { Decision, SigningRequest } from '../../src/lib/shared/entities.js';
import { WORKFLOW_STATUSES } from '../../src/lib/shared/signing.js';
import {
  assignableRolesFor,
  breakGlassRefusal,
  cancelRefusal,
  decisionRefusal,
  isAdministrator,
  mayApprove,
  mayManageApiKey,
  maySubmit,
  maySubmitUnder,
  memberChangeRefusal,
  operatorsOnly,
  resubmitRefusal,
} from '../../src/lib/shared/rules.js';

const decided = (userId: string): Decision => ({ userId, name: userId, comment: '', at: '2026-01-01T00:00:00.000Z' });

type Facts = Pick<SigningRequest, 'workflowStatus' | 'submitterId' | 'approvals' | 'denials' | 'isFinalStatus'>;
const waiting = (changes: Partial<Facts> = {}): Facts => ({
  workflowStatus: 'WaitingForApproval',
  submitterId: 'sam',
  approvals: [],
  denials: [],
  isFinalStatus: false,
  ...changes,
});
const policy = { approvers: ['alice', 'bob', 'sam'] };

describe('deciding on a request (approve or deny)', () => {
  it('an approver of the policy decides on a waiting request of someone else', () => {
    expect(decisionRefusal(waiting(), policy, 'alice')).toBeNull();
  });

  it('only while it waits for approval', () => {
    for (const status of WORKFLOW_STATUSES.filter((s) => s !== 'WaitingForApproval')) {
      expect(decisionRefusal(waiting({ workflowStatus: status }), policy, 'alice'), status).toBe('notWaiting');
    }
  });

  it('a submitter never decides on their own request, even when the policy names them an approver', () => {
    expect(decisionRefusal(waiting(), policy, 'sam')).toBe('ownRequest');
  });

  it('someone the policy does not name is no approver', () => {
    expect(decisionRefusal(waiting(), policy, 'mallory')).toBe('notApprover');
  });

  it('a request whose policy was deleted waits for nobody (it can only be canceled)', () => {
    expect(decisionRefusal(waiting(), null, 'alice')).toBe('policyGone');
  });

  it('each approver decides once', () => {
    expect(decisionRefusal(waiting({ approvals: [decided('alice')] }), policy, 'alice')).toBe('alreadyDecided');
    expect(decisionRefusal(waiting({ approvals: [decided('alice')] }), policy, 'bob')).toBeNull();
  });

  it('nobody decides before it is known who they are', () => {
    expect(decisionRefusal(waiting(), policy, null)).not.toBeNull();
  });
});

describe('breaking the glass (an administrator approves alone)', () => {
  const allowing = { allowBreakGlass: true };

  it('on a waiting request of someone else, under a policy that allows it', () => {
    expect(breakGlassRefusal(waiting(), allowing, 'alice')).toBeNull();
  });

  it('never on one\'s own request', () => {
    expect(breakGlassRefusal(waiting(), allowing, 'sam')).toBe('ownRequest');
  });

  it('only while the request waits for approval', () => {
    for (const status of WORKFLOW_STATUSES.filter((s) => s !== 'WaitingForApproval')) {
      expect(breakGlassRefusal(waiting({ workflowStatus: status }), allowing, 'alice'), status).toBe('notWaiting');
    }
  });

  it('not where the policy leaves the decision to its approvers, or the policy is gone', () => {
    expect(breakGlassRefusal(waiting(), { allowBreakGlass: false }, 'alice')).toBe('notAllowed');
    expect(breakGlassRefusal(waiting(), {}, 'alice')).toBe('notAllowed');
    expect(breakGlassRefusal(waiting(), null, 'alice')).toBe('policyGone');
  });
});

describe('canceling and re-submitting a request', () => {
  const member = { userId: 'sam', role: 'member' as const };
  const other = { userId: 'mia', role: 'member' as const };

  it('the submitter cancels their request before processing starts', () => {
    for (const status of ['Submitted', 'WaitingForApproval', 'QueuedForProcessing'] as const) {
      expect(cancelRefusal(waiting({ workflowStatus: status }), member), status).toBeNull();
    }
    for (const status of ['Processing', 'Completed', 'ProcessingFailed', 'Denied', 'Canceled'] as const) {
      expect(cancelRefusal(waiting({ workflowStatus: status }), member), status).toBe('notCancelable');
    }
  });

  it("a member cannot cancel someone else's request; an owner or admin can", () => {
    expect(cancelRefusal(waiting(), other)).toBe('notSubmitterOrAdmin');
    expect(cancelRefusal(waiting(), { userId: 'olivia', role: 'owner' })).toBeNull();
    expect(cancelRefusal(waiting(), { userId: 'adam', role: 'admin' })).toBeNull();
    expect(cancelRefusal(waiting(), { userId: 'ana', role: 'analyst' })).toBe('notSubmitterOrAdmin');
  });

  it('only a finished request is re-submitted, by its submitter or an administrator', () => {
    const finished = waiting({ workflowStatus: 'Denied', isFinalStatus: true });
    expect(resubmitRefusal(finished, member)).toBeNull();
    expect(resubmitRefusal(finished, { userId: 'adam', role: 'admin' })).toBeNull();
    expect(resubmitRefusal(finished, other)).toBe('notSubmitterOrAdmin');
    expect(resubmitRefusal(waiting(), member)).toBe('notFinal');
  });

  it('owners and admins administer; members, analysts and viewers do not', () => {
    expect(['owner', 'admin', 'member', 'analyst', 'viewer'].filter((role) => isAdministrator(role as never))).toEqual(['owner', 'admin']);
  });
});

describe('who a policy names', () => {
  it('submits under a policy only whoever it names a submitter', () => {
    expect(maySubmitUnder({ submitters: ['sam'] }, 'sam')).toBe(true);
    expect(maySubmitUnder({ submitters: ['sam'] }, 'mia')).toBe(false);
    expect(maySubmitUnder({ submitters: ['sam'] }, null)).toBe(false);
  });

  it('may name as submitter whoever may submit: not a viewer', () => {
    expect(maySubmit({ role: 'member' })).toBe(true);
    expect(maySubmit({ role: 'analyst' })).toBe(true);
    expect(maySubmit({ role: 'viewer' })).toBe(false);
  });

  it('may name as approver people who may approve: never a CI user, never a viewer', () => {
    expect(mayApprove({ role: 'member', kind: 'user' })).toBe(true);
    expect(mayApprove({ role: 'member', kind: 'ciUser' })).toBe(false);
    expect(mayApprove({ role: 'viewer', kind: 'user' })).toBe(false);
  });
});

describe('managing members', () => {
  it('nobody changes or removes themselves', () => {
    expect(memberChangeRefusal({ userId: 'adam', role: 'admin' }, 'adam')).toBe('self');
  });

  it('nobody changes or removes the owner (ownership moves only through an operator)', () => {
    expect(memberChangeRefusal({ userId: 'olivia', role: 'owner' }, 'adam')).toBe('owner');
  });

  it('anyone else may be changed by whoever manages the team', () => {
    for (const role of ['admin', 'member', 'viewer', 'analyst'] as const) expect(memberChangeRefusal({ userId: 'x', role }, 'adam'), role).toBeNull();
  });

  it('a CI user can be a member or a viewer, never an admin; a person any assignable role', () => {
    expect(assignableRolesFor({ kind: 'ciUser' })).toEqual(['member', 'viewer']);
    expect(assignableRolesFor({ kind: 'user' })).toEqual(['admin', 'member', 'viewer']);
  });
});

describe('API keys', () => {
  it('everyone sees and revokes their own keys', () => {
    expect(mayManageApiKey({ ownerId: 'mia' }, false, { userId: 'mia', managesTeam: false })).toBe(true);
  });

  it("nobody sees or revokes another person's key, not even an admin", () => {
    expect(mayManageApiKey({ ownerId: 'mia' }, false, { userId: 'adam', managesTeam: true })).toBe(false);
  });

  it("a CI user's keys are managed by whoever manages the team", () => {
    expect(mayManageApiKey({ ownerId: 'bot' }, true, { userId: 'adam', managesTeam: true })).toBe(true);
    expect(mayManageApiKey({ ownerId: 'bot' }, true, { userId: 'mia', managesTeam: false })).toBe(false);
  });
});

describe('Open Source organizations', () => {
  it('leave project metadata and certificates to the operators, who act as the support user', () => {
    expect(operatorsOnly({ openSource: true }, 'user')).toBe(true);
    expect(operatorsOnly({ openSource: true }, 'apiKey')).toBe(true);
    expect(operatorsOnly({ openSource: true }, 'support')).toBe(false);
    expect(operatorsOnly({ openSource: false }, 'user')).toBe(false);
  });
});
