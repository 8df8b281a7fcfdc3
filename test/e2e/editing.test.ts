// Entering things in the console: hostile names and comments stay text, a stale edit is refused with
// the newer version shown (never a silent overwrite), and an upload shows its progress.
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { gotoConsole, newContext, POLL, signInContext } from '../helpers/browser.js';
import { command } from '../helpers/signet.js';
import { createApiKey, createPolicy, createProject, generateCertificate, ok, submitOk, randomArtifact, waitForStatus } from '../helpers/signing.js';
import type { Certificate, Project, SigningRequest } from '../../src/lib/shared/entities.js';
import { useConsole } from '../helpers/consoleFixture.js';

const fx = useConsole();
const { team, openContext: open } = fx;
let certificate: Certificate;

beforeAll(async () => {
  certificate = await generateCertificate(team.owner.socket, 'test-cert');
});

// Each test's users leave with it.
const XSS_NAME = '<img src=x onerror="window.__xss=1">';
const XSS_DESCRIPTION = '<svg onload="window.__xss=3"></svg><b>bold?</b>';
const XSS_COMMENT = '<script>window.__xss=2</script>';
const XSS_REQUEST = '<iframe src="javascript:window.__xss=4"></iframe>';

describe('names and comments with markup', () => {
  test('are shown as literal text and never run', async () => {
    const dialogs: string[] = [];
    /** A signed-in page whose context reports every dialog (alert, confirm, prompt) from its first load on. */
    const watched = async (user: { email: string; password: string }, path: string) => {
      const context = await fx.newContext();
      context.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      await signInContext(context, fx.ui, user);
      const page = await context.newPage();
      await gotoConsole(page, path);
      return { context, page };
    };
    const xssOf = (page: Page) => page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss);

    // The owner creates the project through the form, with markup in its name and description.
    const owner = await watched(fx.org.users.owner, '/projects');
    await owner.page.getByRole('button', { name: 'New project', exact: true }).click();
    await owner.page.getByLabel('Name', { exact: true }).fill(XSS_NAME);
    await owner.page.getByLabel('Description').fill(XSS_DESCRIPTION);
    await owner.page.getByRole('button', { name: 'Create project' }).click();
    await owner.page.waitForURL(/\/projects\/[^/]+$/);
    await owner.page.getByRole('heading', { level: 1, name: XSS_NAME }).waitFor();
    await owner.page.getByText(XSS_DESCRIPTION, { exact: true }).waitFor();
    const projectId = new URL(owner.page.url()).pathname.split('/').pop()!;
    const { project } = await ok<{ project: Project }>(command(team.owner.socket, 'project.get', { projectId }));
    expect(project.name).toBe(XSS_NAME);

    await createPolicy(team.owner.socket, {
      projectId,
      slug: 'release',
      certificateId: certificate.id,
      submitters: [team.member.userId],
      approvers: [team.admin.userId],
      requiredApprovals: 1,
    });
    const submitted = await submitOk(fx.ui.node, fx.org.slug, await createApiKey(team.member.socket), {
      projectSlug: project.slug,
      signingPolicySlug: 'release',
      artifact: randomArtifact(1024),
      fileName: 'app.bin',
      description: XSS_REQUEST,
    });

    // The approver denies it with markup in the comment.
    const admin = await watched(fx.org.users.admin, `/requests/${submitted.id}`);
    await admin.page.getByText(XSS_REQUEST, { exact: true }).waitFor();
    await admin.page.getByLabel('Comment').fill(XSS_COMMENT);
    await admin.page.getByRole('button', { name: 'Deny' }).click();
    await expect.poll(() => admin.page.getByTestId('workflow-status').textContent(), POLL).toBe('Denied');
    const decisions = admin.page.getByRole('list', { name: 'Approvals and denials' });
    await decisions.getByText(XSS_COMMENT, { exact: true }).waitFor();

    // The owner sees all of it as text: on the request, the project list and the audit log.
    await gotoConsole(owner.page, `/requests/${submitted.id}`);
    await expect.poll(() => owner.page.getByTestId('workflow-status').textContent(), POLL).toBe('Denied');
    await owner.page.getByRole('list', { name: 'Approvals and denials' }).getByText(XSS_COMMENT, { exact: true }).waitFor();
    await owner.page.getByRole('list', { name: 'Activity' }).getByText(XSS_COMMENT).waitFor();
    await owner.page.getByText(XSS_REQUEST, { exact: true }).waitFor();
    await gotoConsole(owner.page, '/projects');
    await owner.page.getByRole('link', { name: XSS_NAME }).waitFor();
    await gotoConsole(owner.page, '/audit');
    await owner.page.getByRole('article', { name: 'project.create by Olivia Owner' }).getByText(XSS_NAME).waitFor();

    for (const page of [owner.page, admin.page]) {
      expect(await xssOf(page)).toBeUndefined();
      // No element was made from the markup (the console's own scripts never mention __xss).
      expect(await page.locator('img[src="x"], [onerror], [onload], iframe').count()).toBe(0);
      expect(await page.evaluate(() => [...document.scripts].filter((s) => s.textContent?.includes('__xss')).length)).toBe(0);
    }
    expect(dialogs).toEqual([]);
  });
});

describe('concurrent edits', () => {
  test('a stale edit shows the conflict and the newer version instead of overwriting it', async () => {
    const project = await createProject(team.owner.socket, 'mobile-sdk');
    const path = `/projects/${project.id}`;
    const [first, second] = await Promise.all([open(fx.org.users.owner, path), open(fx.org.users.admin, path)]);
    for (const { page } of [first, second]) {
      await page.getByRole('heading', { level: 1, name: 'Project mobile-sdk' }).waitFor();
      await page.getByRole('button', { name: 'Edit project' }).click();
    }

    // The admin saves first.
    await second.page.getByLabel('Description').fill('Edited by the admin');
    await second.page.getByRole('button', { name: 'Save project' }).click();
    await second.page.getByRole('status').getByText('Saved.').waitFor();

    // The owner's form was read at version 1: it says so, and saving shows the conflict.
    await first.page.getByText('This project changed while you were editing (now version 2)').waitFor();
    await first.page.getByLabel('Description').fill('Edited by the owner');
    await first.page.getByRole('button', { name: 'Save project' }).click();
    const conflict = first.page.getByRole('alert').filter({ hasText: 'Someone else changed this project while you were editing' });
    await conflict.waitFor();
    expect(await conflict.textContent()).toContain('it is now at version 2');
    const row = conflict.getByRole('row', { name: /Description/ });
    expect(await row.getByRole('cell').allInnerTexts()).toEqual(['Edited by the admin', 'Edited by the owner']);

    // Nothing was overwritten.
    const stored = await ok<{ project: Project }>(command(team.owner.socket, 'project.get', { projectId: project.id }));
    expect(stored.project.description).toBe('Edited by the admin');
    expect(stored.project.version).toBe(2);

    // Taking the current version shows the admin's text in the form.
    await conflict.getByRole('button', { name: 'Discard my edit and load the current version' }).click();
    await conflict.waitFor({ state: 'detached' });
    expect(await first.page.getByLabel('Description').inputValue()).toBe('Edited by the admin');
    await first.page.getByRole('button', { name: 'Cancel' }).click();
    await first.page.getByText('Edited by the admin', { exact: true }).waitFor();
  });
});

describe('uploading an artifact', () => {
  test('from /requests/new shows a progress bar that reaches completion, and creates the request', async () => {
    const project = await createProject(team.owner.socket, 'cli-tools');
    await createPolicy(team.owner.socket, { projectId: project.id, slug: 'test-signing', certificateId: certificate.id, submitters: [team.member.userId] });
    const { context, page } = await open(fx.org.users.member, `/requests/new?project=${project.slug}`);
    await expect.poll(() => page.getByLabel('Signing policy').inputValue(), POLL).toBe('test-signing');

    // Every value the progress bar shows, in order (recorded in the page, so none is missed).
    await page.evaluate(() => {
      const seen: Array<{ value: number; text: string }> = [];
      (window as unknown as { __progress: typeof seen }).__progress = seen;
      const record = () => {
        const bar = document.querySelector('progress');
        if (!bar) return;
        const text = bar.parentElement?.querySelector('[role="status"]')?.textContent?.trim() ?? '';
        const last = seen[seen.length - 1];
        if (!last || last.value !== bar.value || last.text !== text) seen.push({ value: bar.value, text });
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    // A slower uplink (4 MiB/s), so the upload takes a moment to watch.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024 });

    const artifact = randomArtifact(3 * 1024 * 1024);
    await page.getByLabel('Description').fill('Nightly build 0.9.3');
    await page.getByLabel('Artifact file').setInputFiles({ name: 'cli-tools-0.9.3.tar.gz', mimeType: 'application/gzip', buffer: artifact });
    await page.getByRole('button', { name: 'Submit for signing' }).click();
    const bar = page.getByRole('progressbar', { name: 'Upload progress' });
    await bar.waitFor();
    expect(await bar.evaluate((el) => (el as HTMLProgressElement).max)).toBe(100);

    await page.waitForURL(/\/requests\/sr_[^/]+$/);
    const requestId = new URL(page.url()).pathname.split('/').pop()!;
    await page.getByRole('heading', { level: 1, name: 'cli-tools-0.9.3.tar.gz' }).waitFor();

    const progress = await page.evaluate(() => (window as unknown as { __progress: Array<{ value: number; text: string }> }).__progress);
    const values = progress.map((p) => p.value);
    expect(values[0]).toBe(0);
    expect(values.at(-1)).toBe(100);
    expect(values.some((v) => v > 0 && v < 100), `intermediate progress: ${values.join(', ')}`).toBe(true);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(progress.at(-1)!.text).toContain('Uploaded');

    const sha256 = createHash('sha256').update(artifact).digest('hex');
    expect(await page.getByTestId('artifact-sha256').textContent()).toBe(sha256);
    const request = await waitForStatus(team.member.socket, requestId, 'Completed', { ask: true });
    expect(request.artifact).toMatchObject({ fileName: 'cli-tools-0.9.3.tar.gz', size: artifact.length, sha256 });
    expect((request as SigningRequest).description).toBe('Nightly build 0.9.3');
    expect(request.submitterId).toBe(team.member.userId);
    await expect.poll(() => page.getByTestId('workflow-status').textContent(), POLL).toBe('Completed');
  });
});
