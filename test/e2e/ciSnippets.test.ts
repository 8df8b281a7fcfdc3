// A signing policy on its project's page offers what to paste into CI: the GitHub Action, the GitLab
// template and the CLI, filled in with this server, organization, project and policy.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser, openAs, POLL, startUiNode, type UiNode } from '../helpers/browser.js';
import { seedOrg, type ClientSocket, type TestOrg } from '../helpers/signet.js';
import { createPolicy, createProject, generateCertificate, people, type Person } from '../helpers/signing.js';
import type { Project } from '../../src/lib/shared/entities.js';

let ui: UiNode;
let browser: Browser;
let org: TestOrg;
let team: Record<'owner' | 'admin' | 'member' | 'viewer', Person>;
let project: Project;
const sockets: ClientSocket[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [ui, browser] = await Promise.all([startUiNode(), launchBrowser()]);
  org = await seedOrg(ui.node);
  team = await people(ui.node, org, {}, sockets);
  project = await createProject(team.owner.socket, 'desktop-app');
  const certificate = await generateCertificate(team.owner.socket, 'release-cert');
  await createPolicy(team.owner.socket, { projectId: project.id, certificateId: certificate.id, slug: 'release-signing', submitters: [team.member.userId] });
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await browser?.close();
  await ui?.node.close();
});

describe('CI snippets of a signing policy', () => {
  test('show the GitHub Action, the GitLab template and the CLI filled in for the policy, and copy them', async () => {
    const { context, page } = await openAs(browser, ui, org.users.viewer, `/projects/${project.id}`);
    contexts.push(context);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ui.base });
    await page.getByText('Sign from CI with release-signing').click();
    const panel = page.getByRole('tabpanel');
    const github = page.getByRole('tab', { name: 'GitHub Actions' });
    expect(await github.getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => panel.textContent(), POLL).toContain(`url: ${ui.base}`);
    const shown = (await panel.textContent())!;
    for (const line of [`org: ${org.slug}`, 'project: desktop-app', 'policy: release-signing', 'SIGNET_TOKEN: ${{ secrets.SIGNET_TOKEN }}']) expect(shown).toContain(line);

    await page.getByRole('tab', { name: 'GitLab CI' }).click();
    await expect.poll(() => panel.textContent(), POLL).toContain('extends: .signet-sign');
    const gitlab = (await panel.textContent())!;
    for (const line of [`SIGNET_URL: ${ui.base}`, `SIGNET_ORG: ${org.slug}`, 'SIGNET_PROJECT: desktop-app', 'SIGNET_POLICY: release-signing']) expect(gitlab).toContain(line);

    // The arrow keys move between the tabs.
    await page.getByRole('tab', { name: 'GitLab CI' }).press('ArrowRight');
    await expect.poll(() => page.getByRole('tab', { name: 'Command line' }).getAttribute('aria-selected'), POLL).toBe('true');
    const cli = `signet sign dist/app.exe --url ${ui.base} --org ${org.slug} --project desktop-app --policy release-signing`;
    await expect.poll(() => panel.textContent(), POLL).toContain(cli);

    await page.getByRole('button', { name: 'Copy the Command line snippet' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), POLL).toContain(cli);
  });
});
