// The console is live: a submitter's request page follows an approval made in another browser, the
// audit log receives what another user does, and a page that lost its socket catches up on what it
// missed when the connection is back — all without a reload.
import { beforeAll, describe, expect, test } from 'vitest';
import type { Page, WebSocket } from 'playwright-core';
import { openAs, POLL } from '../helpers/browser.js';
import { restCommand } from '../helpers/signet.js';
import { createApiKey, randomArtifact, releaseProject, submitOk } from '../helpers/signing.js';
import { useConsole } from '../helpers/consoleFixture.js';

const fx = useConsole();
const { team, open } = fx;
let project: { id: string; slug: string };
let memberToken: string;

beforeAll(async () => {
  project = await releaseProject(team);
  memberToken = await createApiKey(team.member.socket, 'member ci');
});

// Each test's users leave with it.
/** Marks the document: a reload (or a full navigation) would lose the mark. */
async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { __sameDocument: boolean }).__sameDocument = true;
  });
}

async function stillSameDocument(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true);
}

describe('live updates in the browser', () => {
  test("the submitter's request page follows the approver's approval without a reload", async () => {
    const submitted = await submitOk(fx.ui.node, fx.org.slug, memberToken, {
      projectSlug: project.slug,
      signingPolicySlug: 'release-signing',
      artifact: randomArtifact(2048),
      fileName: 'desktop-app-2.4.0.msi',
      description: 'Release candidate',
    });
    const submitter = await open(fx.org.users.member, `/requests/${submitted.id}`);
    const submitterStatus = submitter.getByTestId('workflow-status');
    await expect.poll(() => submitterStatus.textContent(), POLL).toBe('Waiting for approval');
    await markDocument(submitter);
    // Every status the submitter's page shows, in order.
    await submitter.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __statuses: string[] }).__statuses = seen;
      const record = () => {
        const text = document.querySelector('[data-testid="workflow-status"]')?.textContent ?? '';
        if (text && seen[seen.length - 1] !== text) seen.push(text);
      };
      record();
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
    });

    const approver = await open(fx.org.users.admin, `/requests/${submitted.id}`);
    await approver.getByRole('heading', { name: 'Your decision' }).waitFor();
    await approver.getByLabel('Comment').fill('Checked the build log: fine to ship.');
    await approver.getByRole('button', { name: 'Approve' }).click();

    await expect.poll(() => submitterStatus.textContent(), POLL).toBe('Completed');
    const approvals = submitter.getByRole('list', { name: 'Approvals and denials' });
    await approvals.getByText('Adam Admin').waitFor();
    await approvals.getByText('Checked the build log: fine to ship.').waitFor();
    await submitter.getByRole('link', { name: 'Download signature' }).waitFor();
    expect(await stillSameDocument(submitter)).toBe(true);
    const statuses = await submitter.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);
    expect(statuses[0]).toBe('Waiting for approval');
    expect(statuses.at(-1)).toBe('Completed');
  });

  test('the audit log shows an entry as soon as another user acts', async () => {
    const auditor = await open(fx.org.users.owner, '/audit');
    await expect.poll(() => auditor.getByTestId('audit-live-state').textContent().then((text) => text?.trim()), POLL).toBe('Live');
    await expect.poll(() => auditor.getByTestId('audit-count').textContent(), POLL).toMatch(/\d+\s+entr/);
    await markDocument(auditor);
    const invited = auditor.getByRole('article', { name: 'member.invite by Adam Admin' });
    expect(await invited.count()).toBe(0);

    // Another user, in another browser context, invites someone from the team page.
    const admin = await open(fx.org.users.admin, '/team');
    await admin.getByLabel('Email').fill('new.hire@example.com');
    await admin.getByLabel('Role', { exact: true }).selectOption('viewer');
    await admin.getByRole('button', { name: 'Invite', exact: true }).click();
    await admin.getByText('Invitation for new.hire@example.com as viewer created').waitFor();

    await invited.waitFor();
    expect(await invited.textContent()).toContain('new.hire@example.com');
    expect(await invited.count()).toBe(1);
    expect(await stillSameDocument(auditor)).toBe(true);
  });

  test('a page that lost its connection catches up on the events it missed, without a reload', async () => {
    const { context, page } = await fx.openContext(fx.org.users.owner, '/audit');
    const liveState = () => page.getByTestId('audit-live-state').textContent().then((text) => text?.trim());
    await expect.poll(liveState, POLL).toBe('Live');
    await expect.poll(() => page.getByTestId('audit-count').textContent(), POLL).toMatch(/\d+\s+entr/);
    await markDocument(page);

    // The `ready` handshake events the page's sockets receive (Socket.IO frames `42["ready",{…}]`).
    const readies: Array<{ seq: number; resumed: boolean; replayed: number }> = [];
    const watch = (ws: WebSocket) =>
      ws.on('framereceived', ({ payload }) => {
        const text = String(payload);
        if (!text.startsWith('42')) return;
        const [event, data] = JSON.parse(text.slice(2)) as [string, { seq: number; resumed: boolean; replayed: number }];
        if (event === 'ready') readies.push(data);
      });
    page.on('websocket', watch);

    const banner = page.getByText('Connection lost. Reconnecting…');
    const created = page.getByRole('article', { name: 'project.create by Adam Admin' });
    expect(await created.count()).toBe(0);

    await context.setOffline(true);
    await banner.waitFor();
    await expect.poll(liveState, POLL).toBe('Offline');

    // Meanwhile another user changes things (over REST): the page cannot hear of it now.
    for (const slug of ['offline-one', 'offline-two']) {
      const response = await restCommand(fx.ui.node, 'project.create', { slug, name: `Made while offline ${slug}`, repositoryUrl: null }, { cookie: team.admin.cookie, org: fx.org.slug });
      expect(response.status).toBe(200);
    }
    expect(await created.count()).toBe(0);

    await context.setOffline(false);
    await banner.waitFor({ state: 'hidden', timeout: 15_000 });
    await expect.poll(liveState, POLL).toBe('Live');
    await expect.poll(() => created.count(), POLL).toBe(2);
    await page.getByText('Made while offline offline-one').waitFor();
    await page.getByText('Made while offline offline-two').waitFor();
    // It resumed from the last event it had seen (the two entries were replayed, not reloaded).
    expect(readies.length).toBeGreaterThanOrEqual(1);
    expect(readies.at(-1)!.resumed).toBe(true);
    expect(readies.at(-1)!.replayed).toBeGreaterThanOrEqual(2);
    expect(await stillSameDocument(page)).toBe(true);
    // Nothing twice.
    expect(await created.count()).toBe(2);
  });
});
