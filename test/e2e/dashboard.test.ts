// The dashboard's pictures in the browser: requests by final status, approval waits per policy and
// certificates by days to expiry are drawn, each with its numbers in words and in a table, and they
// follow what other clients do (a request completing, a decision, a certificate added) without a reload.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { openAs, POLL } from '../helpers/browser.js';
import { createApiKey, createPolicy, createProject, generateCertificate, must, randomArtifact, submitOk, waitForStatus } from '../helpers/signing.js';
import { useConsole } from '../helpers/consoleFixture.js';

const fx = useConsole();
const { team } = fx;
let memberToken: string;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  const project = await createProject(team.owner.socket, 'desktop-app');
  const certificate = await generateCertificate(team.owner.socket, 'test-cert');
  await createPolicy(team.owner.socket, { projectId: project.id, slug: 'nightly', certificateId: certificate.id, submitters: [team.member.userId] });
  await createPolicy(team.owner.socket, {
    projectId: project.id,
    slug: 'release',
    certificateId: certificate.id,
    submitters: [team.member.userId],
    approvers: [team.admin.userId],
    requiredApprovals: 1,
  });
  memberToken = await createApiKey(team.member.socket, 'member ci');
  ({ context, page } = await openAs(fx.browser, fx.ui, fx.org.users.viewer, '/'));
});

afterAll(async () => {
  await context?.close();
});

/** What the chart says in words (its accessible name). */
const summaryOf = (testid: string) => page.getByTestId(testid).getAttribute('aria-label');

/** The picture itself, to tell that it was drawn again. */
const pictureOf = (testid: string) => page.getByTestId(testid).locator('canvas').evaluate((canvas: HTMLCanvasElement) => canvas.toDataURL());

/** How many pixels of the canvas are painted (a blank canvas has none). */
const paintedPixels = (testid: string) =>
  page
    .getByTestId(testid)
    .locator('canvas')
    .evaluate((canvas: HTMLCanvasElement) => {
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
      return painted;
    });

const submit = (policy: string, fileName: string) =>
  submitOk(fx.ui.node, fx.org.slug, memberToken, { projectSlug: 'desktop-app', signingPolicySlug: policy, artifact: randomArtifact(512), fileName });

describe('the dashboard pictures', () => {
  test('are drawn, with their numbers in words and in a table', async () => {
    await expect.poll(() => summaryOf('chart-requests'), POLL).toMatch(/^Requests finished in the last 14 days \(UTC\), by final status: 0 completed, 0 failed, 0 denied, 0 canceled\.$/);
    await expect.poll(() => paintedPixels('chart-requests'), POLL).toBeGreaterThan(0);
    await expect.poll(() => summaryOf('chart-expiry'), POLL).toBe(
      '1 enabled certificate by days to expiry: 0 expired, 0 with under 7 days left, 1 with 7–29 days left, 0 with 30–89 days left, 0 with 90 days or more left.',
    );
    expect(await paintedPixels('chart-expiry')).toBeGreaterThan(0);
    expect(await page.getByTestId('chart-waits-empty').textContent()).toBe('No request was approved or denied in the last 14 days.');

    await page.getByTestId('chart-expiry').locator('xpath=..').getByText('Show the numbers').click();
    const table = page.getByRole('table', { name: 'Enabled certificates by days to expiry' });
    await expect.poll(() => table.getByRole('row', { name: '7–29 days 1' }).count(), POLL).toBe(1);
  });

  test('follow requests that finish and decisions made elsewhere, without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const before = await pictureOf('chart-requests');

    const nightly = await submit('nightly', 'app-nightly.bin');
    await waitForStatus(team.owner.socket, nightly.id, 'Completed', { ask: true });
    await expect.poll(() => summaryOf('chart-requests'), POLL).toContain('by final status: 1 completed, 0 failed, 0 denied, 0 canceled.');
    expect(await pictureOf('chart-requests')).not.toBe(before);

    // An approver decides in another client: the wait of the release policy appears.
    const release = await submit('release', 'app-release.bin');
    await must(team.admin.socket, 'request.deny', { requestId: release.id, comment: 'not this build' });
    await expect.poll(() => summaryOf('chart-waits'), POLL).toMatch(/^Time from submission to the approval or denial, in the last 14 days: desktop-app\/release: median \d+ s, 90th percentile \d+ s \(1 decision\)\.$/);
    expect(await paintedPixels('chart-waits')).toBeGreaterThan(0);
    await expect.poll(() => summaryOf('chart-requests'), POLL).toContain('by final status: 1 completed, 0 failed, 1 denied, 0 canceled.');

    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  });

  test('follow a certificate added by another user', async () => {
    const before = await pictureOf('chart-expiry');
    await must(team.admin.socket, 'certificate.generate', {
      slug: 'release-cert',
      name: 'Release',
      type: 'release',
      custody: 'software',
      algorithm: 'ECDSA-P256',
      commonName: 'Release',
      validDays: 400,
    });
    await expect.poll(() => summaryOf('chart-expiry'), POLL).toBe(
      '2 enabled certificates by days to expiry: 0 expired, 0 with under 7 days left, 1 with 7–29 days left, 0 with 30–89 days left, 1 with 90 days or more left.',
    );
    expect(await pictureOf('chart-expiry')).not.toBe(before);
  });

  test('show another period when asked', async () => {
    await page.getByLabel('Period').selectOption('30');
    await expect.poll(() => summaryOf('chart-requests'), POLL).toContain('in the last 30 days (UTC)');
    await page.getByTestId('chart-requests').locator('xpath=..').getByText('Show the numbers').click();
    expect(await page.getByRole('table', { name: 'Requests finished per day (UTC), by final status' }).getByRole('row').count()).toBe(31);
  });
});
