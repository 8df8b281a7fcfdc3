// A signing policy on its project's page offers what to paste into CI: the GitHub Action, the GitLab
// template and the CLI, filled in with this server, organization, project and policy.
import { beforeAll, describe, expect, test } from 'vitest';
import { openAs, POLL } from '../helpers/browser.js';
import { createPolicy, createProject, generateCertificate } from '../helpers/signing.js';
import type { Project } from '../../src/lib/shared/entities.js';
import { useConsole } from '../helpers/consoleFixture.js';

const fx = useConsole();
const { team } = fx;
let project: Project;

beforeAll(async () => {
  project = await createProject(team.owner.socket, 'desktop-app');
  const certificate = await generateCertificate(team.owner.socket, 'release-cert');
  await createPolicy(team.owner.socket, { projectId: project.id, certificateId: certificate.id, slug: 'release-signing', submitters: [team.member.userId] });
});

describe('CI snippets of a signing policy', () => {
  test('show the GitHub Action, the GitLab template and the CLI filled in for the policy, and copy them', async () => {
    const { context, page } = await fx.openContext(fx.org.users.viewer, `/projects/${project.id}`);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: fx.ui.base });
    await page.getByText('Sign from CI with release-signing').click();
    const panel = page.getByRole('tabpanel');
    const github = page.getByRole('tab', { name: 'GitHub Actions' });
    expect(await github.getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => panel.textContent(), POLL).toContain(`url: ${fx.ui.base}`);
    const shown = (await panel.textContent())!;
    for (const line of [`org: ${fx.org.slug}`, 'project: desktop-app', 'policy: release-signing', 'SIGNET_TOKEN: ${{ secrets.SIGNET_TOKEN }}']) expect(shown).toContain(line);

    await page.getByRole('tab', { name: 'GitLab CI' }).click();
    await expect.poll(() => panel.textContent(), POLL).toContain('extends: .signet-sign');
    const gitlab = (await panel.textContent())!;
    for (const line of [`SIGNET_URL: ${fx.ui.base}`, `SIGNET_ORG: ${fx.org.slug}`, 'SIGNET_PROJECT: desktop-app', 'SIGNET_POLICY: release-signing']) expect(gitlab).toContain(line);

    // The arrow keys move between the tabs.
    await page.getByRole('tab', { name: 'GitLab CI' }).press('ArrowRight');
    await expect.poll(() => page.getByRole('tab', { name: 'Command line' }).getAttribute('aria-selected'), POLL).toBe('true');
    const cli = `signet sign dist/app.exe --url ${fx.ui.base} --org ${fx.org.slug} --project desktop-app --policy release-signing`;
    await expect.poll(() => panel.textContent(), POLL).toContain(cli);

    await page.getByRole('button', { name: 'Copy the Command line snippet' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), POLL).toContain(cli);
  });
});
