// The shared rules of approving without stalling (SPEC §4): where a grant stands over time, whom it
// still pre-approves, who may decide once a request is escalated, and when a compare link can be made.
import { describe, expect, it } from 'vitest';
import { compareUrl, eligibleApprovers, grantApplies, grantState } from '../../src/lib/shared/approvals.js';
import type { ApprovalGrant, Origin, SigningPolicy } from '../../src/lib/shared/entities.js';

const HOUR = 3600_000;
const T0 = Date.parse('2026-06-01T10:00:00Z');
const at = (ms: number) => new Date(ms).toISOString();

const policy = {
  id: 'p1',
  approvers: ['alice', 'bob', 'carol'],
  requiredApprovals: 2,
  backupApprovers: ['dave'],
  escalateAfterMinutes: 30,
} as SigningPolicy;

function grant(fields: Partial<ApprovalGrant> = {}): ApprovalGrant {
  return {
    id: 'gr_1', orgId: 'o', projectId: 'pr', projectSlug: 'app', policyId: 'p1', policySlug: 'release',
    granteeId: 'ci', granteeName: 'CI', maxSignatures: 3, used: 0, hours: 2, requiredCosigners: 2,
    cosigners: [{ userId: 'alice', name: 'Alice', at: at(T0) }, { userId: 'bob', name: 'Bob', at: at(T0) }],
    status: 'active', comment: '', createdAt: at(T0), proposalExpiresAt: at(T0 + 72 * HOUR),
    activatedAt: at(T0), expiresAt: at(T0 + 2 * HOUR), revokedBy: null, revokedAt: null, revokeReason: null, version: 2,
    ...fields,
  };
}

describe('a grant over time', () => {
  it('is active inside its window, expired after it, used up at its count, revoked for good', () => {
    expect(grantState(grant(), T0 + HOUR)).toBe('active');
    expect(grantState(grant(), T0 + 2 * HOUR)).toBe('expired');
    expect(grantState(grant({ used: 3 }), T0 + HOUR)).toBe('usedUp');
    expect(grantState(grant({ status: 'revoked' }), T0 + HOUR)).toBe('revoked');
    expect(grantState(grant({ status: 'proposed', activatedAt: null, expiresAt: null }), T0 + HOUR)).toBe('proposed');
    expect(grantState(grant({ status: 'proposed', activatedAt: null, expiresAt: null }), T0 + 72 * HOUR)).toBe('lapsed');
  });

  it('pre-approves only its grantee, under its policy, while k of its co-signers are still approvers', () => {
    expect(grantApplies(grant(), policy, 'ci', T0 + HOUR)).toBe(true);
    expect(grantApplies(grant(), policy, 'alice', T0 + HOUR)).toBe(false);
    expect(grantApplies(grant(), { ...policy, id: 'p2' }, 'ci', T0 + HOUR)).toBe(false);
    expect(grantApplies(grant(), { ...policy, approvers: ['alice', 'carol'] }, 'ci', T0 + HOUR)).toBe(false);
    expect(grantApplies(grant(), { ...policy, requiredApprovals: 3 }, 'ci', T0 + HOUR)).toBe(false);
    expect(grantApplies(grant(), policy, 'ci', T0 + 3 * HOUR)).toBe(false);
  });
});

describe('who decides a waiting request', () => {
  it('the approvers, and the backup approvers once it is escalated', () => {
    expect(eligibleApprovers(policy, { escalation: null })).toEqual(['alice', 'bob', 'carol']);
    const escalation = { afterMinutes: 30, nudgeAt: at(T0), escalateAt: at(T0), nudgedAt: null, nudged: [], escalatedAt: null, backups: [] };
    expect(eligibleApprovers(policy, { escalation })).toEqual(['alice', 'bob', 'carol']);
    expect(eligibleApprovers(policy, { escalation: { ...escalation, escalatedAt: at(T0) } })).toEqual(['alice', 'bob', 'carol', 'dave']);
  });
});

describe('what changed since the last signed request', () => {
  const origin = (repositoryUrl: string | null, commit: string | null): Origin => ({
    verified: true, repository: 'acme/app', repositoryUrl, branch: 'main', commit, buildUrl: null, issuer: null, buildSystemId: null,
  });
  const A = '1111111111111111111111111111111111111111';
  const B = '2222222222222222222222222222222222222222';

  it('links GitHub and GitLab compare views between the two commits', () => {
    expect(compareUrl(origin('https://github.com/acme/app', A), origin('https://github.com/acme/app', B))).toBe(`https://github.com/acme/app/compare/${A}...${B}`);
    expect(compareUrl(origin('https://gitlab.com/acme/app.git', A), origin('https://gitlab.com/acme/app', B))).toBe(`https://gitlab.com/acme/app/-/compare/${A}...${B}`);
  });

  it('makes no link for the same commit, another repository, an unknown host, a missing or odd commit', () => {
    expect(compareUrl(origin('https://github.com/acme/app', A), origin('https://github.com/acme/app', A))).toBeNull();
    expect(compareUrl(origin('https://github.com/acme/other', A), origin('https://github.com/acme/app', B))).toBeNull();
    expect(compareUrl(origin('https://git.example.com/acme/app', A), origin('https://git.example.com/acme/app', B))).toBeNull();
    expect(compareUrl(origin('https://github.com/acme/app', null), origin('https://github.com/acme/app', B))).toBeNull();
    expect(compareUrl(origin('https://github.com/acme/app', 'main;rm'), origin('https://github.com/acme/app', B))).toBeNull();
    expect(compareUrl(null, origin('https://github.com/acme/app', B))).toBeNull();
  });
});
