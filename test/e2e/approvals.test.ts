// Approving without stalling, in the console (SPEC §4): an admin breaks the glass on the request page
// (with a reason the server insists on) and an approver watching the same request sees the mark and
// is told at once; approvers propose, co-sign and revoke a pre-approved window on the policy, live
// in each other's browsers, and a request inside it shows what approved it.
import { beforeAll, describe, expect, test } from 'vitest';
import { POLL } from '../helpers/browser.js';
import { createApiKey, createPolicy, createSigningProject, must, people, randomArtifact, submitOk, type SigningProject } from '../helpers/signing.js';
import type { SigningPolicy } from '../../src/lib/shared/entities.js';
import { useConsole } from '../helpers/consoleFixture.js';

const fx = useConsole({ people: { alice: 'Alice Approver', bob: 'Bob Approver' } });
const { team, open } = fx;
let fixture: SigningProject;
let memberToken: string;

beforeAll(async () => {
  fixture = await createSigningProject(team.owner.socket, { slug: 'console-app' });
  memberToken = await createApiKey(team.member.socket, 'member ci');
});

const submit = (policySlug: string) =>
  submitOk(fx.ui.node, fx.org.slug, memberToken, { projectSlug: fixture.project.slug, signingPolicySlug: policySlug, artifact: randomArtifact(), fileName: 'console-app.msi' });

describe('break-glass on the request page', () => {
  let policy: SigningPolicy;

  beforeAll(async () => {
    policy = await must(team.owner.socket, 'policy.create', {
      projectId: fixture.project.id,
      slug: 'glass',
      name: 'Glass',
      certificateId: fixture.certificate.id,
      submitters: [team.member.userId],
      approvers: [team.alice.userId, team.bob.userId],
      requiredApprovals: 2,
      allowBreakGlass: true,
    });
  });

  test('an admin approves alone with a reason; the approver on the same page sees the mark and is told at once', async () => {
    const request = await submit(policy.slug);
    const [admin, alice] = await Promise.all([open(team.admin, `/requests/${request.id}`), open(team.alice, `/requests/${request.id}`)]);
    const form = admin.getByRole('form', { name: 'Break-glass approval' });
    await form.waitFor();
    // An approver decides normally; break-glass is not offered to a member.
    await alice.getByRole('button', { name: 'Approve', exact: true }).waitFor();
    expect(await alice.getByRole('form', { name: 'Break-glass approval' }).count()).toBe(0);

    // The server insists on a reason of some length, shown at the field.
    await form.getByLabel(/Reason/).fill('urgent');
    await form.getByRole('button', { name: 'Approve alone (break-glass)' }).click();
    await expect.poll(() => form.getByLabel(/Reason/).getAttribute('aria-invalid'), POLL).toBe('true');
    expect((await must(team.owner.socket, 'request.get', { requestId: request.id })).request.workflowStatus).toBe('WaitingForApproval');

    const reason = 'Customer outage: the hotfix must ship before both approvers land';
    await form.getByLabel(/Reason/).fill(reason);
    await form.getByRole('button', { name: 'Approve alone (break-glass)' }).click();

    for (const page of [admin, alice]) {
      await page.getByTestId('break-glass-badge').waitFor();
      await expect.poll(() => page.getByTestId('break-glass').textContent(), POLL).toContain(reason);
      await expect.poll(() => page.getByTestId('workflow-status').textContent(), POLL).toBe('Completed');
    }
    // The approver is told where they are looking, not only in the inbox.
    const told = alice.locator('[data-testid="nudge"][data-kind="request.breakGlass"]');
    await told.waitFor();
    expect(await told.textContent()).toContain('approved by Adam Admin alone');
    expect(await admin.locator('[data-testid="nudge"]').count()).toBe(0);
  });
});

describe('pre-approved windows on the policy', () => {
  let policy: SigningPolicy;

  beforeAll(async () => {
    policy = await createPolicy(team.owner.socket, {
      projectId: fixture.project.id,
      slug: 'windowed',
      certificateId: fixture.certificate.id,
      submitters: [team.member.userId],
      approvers: [team.alice.userId, team.bob.userId],
      requiredApprovals: 2,
    });
  });

  test('an approver proposes a window, the other co-signs it live, a request inside it shows the grant, and a revocation closes it for everyone', async () => {
    const path = `/projects/${fixture.project.id}`;
    const [alice, bob] = await Promise.all([open(team.alice, path), open(team.bob, path)]);
    const aliceWindows = alice.locator(`#policy-${policy.id}`);
    const bobWindows = bob.locator(`#policy-${policy.id}`);

    await aliceWindows.getByRole('button', { name: 'Propose a window…' }).click();
    const form = aliceWindows.getByRole('form', { name: `Propose a pre-approved window for ${policy.slug}` });
    await form.getByLabel('Submitter').selectOption({ label: 'Mia Member' });
    await form.getByLabel('Signatures').fill('2');
    await form.getByLabel('Hours').fill('1');
    await form.getByLabel('Why (optional)').fill('release 4.2');
    await form.getByRole('button', { name: 'Propose window' }).click();

    const bobRow = bobWindows.getByTestId('grant');
    await expect.poll(() => bobRow.getAttribute('data-state'), POLL).toBe('proposed');
    expect(await bobRow.textContent()).toContain('Signed by Alice Approver (1 of 2)');
    // Alice signed it already: she is not offered to sign again.
    expect(await aliceWindows.getByRole('button', { name: /Co-sign/ }).count()).toBe(0);
    await bobRow.getByRole('button', { name: /Co-sign/ }).click();

    for (const windows of [aliceWindows, bobWindows]) {
      const row = windows.getByTestId('grant');
      await expect.poll(() => row.getAttribute('data-state'), POLL).toBe('active');
      await expect.poll(() => row.getByTestId('grant-remaining').textContent(), POLL).toBe('2 of 2 signatures left');
    }

    const request = await submit(policy.slug);
    expect(request.workflowStatus).toBe('QueuedForProcessing');
    await expect.poll(() => aliceWindows.getByTestId('grant-remaining').textContent(), POLL).toBe('1 of 2 signatures left');

    const page = await open(team.bob, `/requests/${request.id}`);
    await expect.poll(() => page.getByTestId('pre-approval').textContent(), POLL).toMatch(/Pre-approved\s+by grant\s+gr_\w+\s+\(Alice Approver, Bob Approver\)/);

    await aliceWindows.getByRole('button', { name: 'Revoke' }).click();
    await aliceWindows.getByRole('button', { name: 'Yes, revoke' }).click();
    for (const windows of [aliceWindows, bobWindows]) {
      await windows.getByText('No open window.').waitFor();
      await windows.getByText('Ended windows (1)').waitFor();
    }
    expect((await submit(policy.slug)).workflowStatus).toBe('WaitingForApproval');
  });
});
