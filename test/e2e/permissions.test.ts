// Each role sees exactly the actions the permission matrix (src/lib/shared/permissions.ts) allows:
// on the dashboard, team, projects, project, certificates, API keys, audit and settings pages, and in
// the main navigation. Every expectation is derived from roleHas; presence and absence are asserted
// only once the page has loaded what the buttons belong to. Each role signs in through the real form.
import { beforeAll, describe, expect, test } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { navLabels, newContext, POLL, signInThroughForm } from '../helpers/browser.js';
import { command } from '../helpers/signet.js';
import { ok, releaseProject } from '../helpers/signing.js';
import { ROLES, roleHas, type Permission, type Role } from '../../src/lib/shared/permissions.js';
import { useConsole } from '../helpers/consoleFixture.js';

const fx = useConsole();
const { team } = fx;
let project: { id: string; slug: string };
const CERTIFICATE_NAME = 'Certificate release-cert';

beforeAll(async () => {
  project = await releaseProject(team);
  // Everyone who may hold API keys has one, so the API keys page has a row to act on.
  for (const role of ROLES.filter((r) => roleHas(r, 'apikey:write'))) {
    await ok(command(team[role].socket, 'apiKey.create', { name: `${role} laptop`, permissions: ['signing:read'] }));
  }
});

/** Asserts the element is there exactly when `allowed`, by its accessible role and name. */
async function shownIff(locator: Locator, allowed: boolean, what: string): Promise<void> {
  expect(await locator.count(), `${what} should be ${allowed ? 'shown' : 'hidden'}`).toBe(allowed ? 1 : 0);
}

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

/** Navigates inside the console (a click on its link, no reload), or loads the page when it has no link. */
async function visit(page: Page, path: string, heading: string): Promise<void> {
  const link = page.getByRole('navigation', { name: 'Main' }).locator(`a[href="${path}"]`);
  if ((await link.count()) > 0) await link.click();
  else await page.goto(path);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

describe('what each role sees', () => {
  test.each(ROLES)('%s sees exactly the actions its permissions allow', async (role) => {
    const can = (permission: Permission) => roleHas(role, permission);
    const context = await newContext(fx.browser, fx.ui);
    const page = await context.newPage();
    await signInThroughForm(page, fx.org.users[role]);

    // Navigation and dashboard.
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByRole('heading', { name: /^Recent requests/ }).waitFor();
    const expectedNav = [
      ['Dashboard', can('signing:read')],
      ['Requests', can('signing:read')],
      ['Projects', can('config:read')],
      ['Certificates', can('config:read')],
      ['Team', can('team:read')],
      ['API keys', can('apikey:write') || can('team:manage')],
      ['Audit log', can('audit:read')],
      ['Settings', true],
    ] as const;
    expect(await navLabels(page)).toEqual(expectedNav.filter(([, shown]) => shown).map(([label]) => label));
    await shownIff(page.getByRole('link', { name: 'New signing request' }), can('signing:submit'), 'New signing request');
    await shownIff(page.getByRole('heading', { name: /^Waiting for my approval/ }), can('signing:approve'), 'Waiting for my approval');
    await shownIff(page.getByRole('heading', { name: /^My requests/ }), can('signing:submit'), 'My requests');

    // Team.
    await visit(page, '/team', 'Team');
    await page.getByRole('rowheader', { name: 'Victor Viewer' }).waitFor();
    await shownIff(button(page, 'Invite'), can('team:manage'), 'Invite');
    await shownIff(button(page, 'Create CI user'), can('team:manage'), 'Create CI user');
    await shownIff(button(page, 'Authorize support user'), can('team:manage'), 'Authorize support user');
    // Roles change and members go with team:manage, never the owner's, never one's own.
    for (const other of ROLES) {
      const manageable = can('team:manage') && other !== 'owner' && other !== role;
      const name = team[other].name;
      await shownIff(page.getByRole('combobox', { name: `Role of ${name}` }), manageable, `role of ${name}`);
      await shownIff(button(page, `Remove ${name}`), manageable, `Remove ${name}`);
    }

    // Projects.
    await visit(page, '/projects', 'Projects');
    const projectLink = page.getByRole('link', { name: 'Project desktop-app' });
    await projectLink.waitFor();
    await shownIff(button(page, 'New project'), can('config:write'), 'New project');
    // Origin verification trusts the repository URL: only policy:write may type one (SPEC §3).
    if (can('config:write')) {
      await button(page, 'New project').click();
      expect(await page.getByLabel('Repository URL').isEditable(), 'the new project\'s repository URL').toBe(can('policy:write'));
      await button(page, 'Cancel').click();
    }

    // One project.
    await projectLink.click();
    await page.getByRole('heading', { level: 1, name: 'Project desktop-app' }).waitFor();
    await page.getByText('Policy release-signing', { exact: true }).waitFor();
    await shownIff(button(page, 'Edit project'), can('config:write'), 'Edit project');
    if (can('config:write')) {
      await button(page, 'Edit project').click();
      expect(await page.getByLabel('Repository URL').inputValue()).toBe('https://example.com/acme/desktop-app');
      expect(await page.getByLabel('Repository URL').isEditable(), 'the project\'s repository URL').toBe(can('policy:write'));
      await button(page, 'Cancel').click();
    }
    await shownIff(button(page, 'New artifact configuration'), can('config:write'), 'New artifact configuration');
    await shownIff(button(page, 'Add webhook'), can('config:write'), 'Add webhook');
    await shownIff(button(page, 'Add chat channel'), can('config:write'), 'Add chat channel');
    await shownIff(button(page, 'New signing policy'), can('policy:write'), 'New signing policy');
    await shownIff(button(page, 'Edit policy release-signing'), can('policy:write'), 'Edit policy');
    await shownIff(button(page, 'Delete project'), can('project:delete'), 'Delete project');
    await shownIff(page.getByRole('heading', { name: 'Danger zone' }), can('project:delete'), 'the danger zone');

    // Certificates.
    await visit(page, '/certificates', 'Certificates');
    await page.getByRole('heading', { name: CERTIFICATE_NAME }).waitFor();
    await shownIff(button(page, 'Generate certificate'), can('certificate:write'), 'Generate certificate');
    await shownIff(button(page, 'Import certificate'), can('certificate:write'), 'Import certificate');
    await shownIff(button(page, 'Request from a CA'), can('certificate:write'), 'Request from a CA');
    await shownIff(button(page, `Disable ${CERTIFICATE_NAME}`), can('certificate:write'), 'Disable certificate');

    // API keys (a viewer has no link to it, but may open it).
    await visit(page, '/api-keys', 'API keys');
    await page.getByRole('heading', { name: 'My keys' }).waitFor();
    await page.getByText('Loading keys…').waitFor({ state: 'detached' });
    await shownIff(button(page, 'Create key'), can('apikey:write'), 'Create key');
    await shownIff(page.getByRole('form', { name: 'Create an API key' }), can('apikey:write'), 'the API key form');
    await shownIff(button(page, `Revoke ${role} laptop`), can('apikey:write'), 'Revoke');
    if (!can('apikey:write')) await page.getByText('Creating and revoking keys needs apikey:write').waitFor();

    // Audit log (opened directly when there is no link).
    await visit(page, '/audit', 'Audit log');
    if (can('audit:read')) {
      await expect.poll(() => page.getByTestId('audit-count').textContent(), POLL).toMatch(/\d+\s+entr/);
    } else {
      await page.getByText(`Your role (${role}) does not include audit:read`).waitFor();
    }
    await shownIff(button(page, 'Export NDJSON'), can('audit:read'), 'Export NDJSON');
    await shownIff(button(page, 'Pause'), can('audit:read'), 'Pause');
    await shownIff(page.getByRole('form', { name: 'Filter the audit log' }), can('audit:read'), 'the audit filters');

    // Settings.
    await visit(page, '/settings', 'Settings');
    await page.getByRole('heading', { name: 'What your role allows' }).waitFor();
    expect((await page.getByTestId('my-role').textContent())?.trim()).toBe(role);
    await shownIff(button(page, 'Rename'), can('team:manage'), 'Rename organization');
    await shownIff(button(page, 'Delete organization'), can('org:delete'), 'Delete organization');

    await context.close();
  });
});
