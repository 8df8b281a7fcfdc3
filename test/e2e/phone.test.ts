// The console on a phone (390 × 844): no page scrolls sideways, and every control of the header —
// the sections, the notification bell, who is online, the organization picker, the account and
// Sign out — is on screen and works, folded behind a menu button.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { signInContext, WAIT_MS } from '../helpers/browser.js';
import { OPERATOR, seedOrg } from '../helpers/signet.js';
import { createApiKey, createPolicy, createProject, generateCertificate, randomArtifact, submitOk } from '../helpers/signing.js';
import { addMemberDirectly } from '../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../server/audit/entries.js';
import { useConsole } from '../helpers/consoleFixture.js';

const PHONE = { width: 390, height: 844 };

const fx = useConsole();
const { team } = fx;
let context: BrowserContext;
let page: Page;
let projectId: string;
let requestId: string;

beforeAll(async () => {
  // The owner belongs to a second organization too, so the header has an organization picker.
  const other = await seedOrg(fx.ui.node);
  const owner = fx.org.users.owner;
  await addMemberDirectly(fx.ui.node.signet, other.orgId, { email: owner.email, name: 'Olivia Owner', role: 'admin', password: owner.password }, OPERATOR, CLI_SOURCE);
  const project = await createProject(team.owner.socket, 'mobile-app-with-a-long-name');
  projectId = project.id;
  const certificate = await generateCertificate(team.owner.socket, 'phone-cert');
  await createPolicy(team.owner.socket, {
    projectId: project.id,
    slug: 'release-signing',
    certificateId: certificate.id,
    submitters: [team.member.userId],
    approvers: [team.owner.userId, team.admin.userId],
    requiredApprovals: 1,
  });
  const token = await createApiKey(team.member.socket, 'phone ci');
  requestId = (
    await submitOk(fx.ui.node, fx.org.slug, token, {
      projectSlug: project.slug,
      signingPolicySlug: 'release-signing',
      artifact: randomArtifact(1024),
      fileName: 'mobile-app-with-a-long-name-3.2.1-universal-release-candidate.apk',
      description: 'A release candidate with a rather long description that should wrap on a phone instead of widening the page',
    })
  ).id;

  context = await fx.browser.newContext({ baseURL: fx.ui.base, viewport: PHONE });
  context.setDefaultTimeout(WAIT_MS);
  await signInContext(context, fx.ui, owner);
  page = await context.newPage();
  await page.goto('/');
  // Two organizations: the console asks which one first.
  await page.getByRole('list', { name: 'Your organizations' }).getByRole('button').filter({ hasText: fx.org.slug }).click();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
});

afterAll(async () => {
  await context?.close();
});

const pageWidth = () => page.evaluate(() => document.scrollingElement!.scrollWidth);

/** The innermost elements that stick out on the right, unless a scrolling box holds them (for the failure message). */
const stickingOut = () =>
  page.evaluate((width) => {
    const held = (element: Element) => {
      for (let box = element.parentElement; box; box = box.parentElement) {
        if (getComputedStyle(box).overflowX !== 'visible' && box.getBoundingClientRect().right <= width + 0.5) return true;
      }
      return false;
    };
    const out = [...document.querySelectorAll('body *')].filter((element) => element.getBoundingClientRect().right > width + 0.5 && !held(element));
    return out
      .filter((element) => !out.some((other) => other !== element && element.contains(other)))
      .slice(0, 5)
      .map((element) => `${element.tagName.toLowerCase()}.${[...element.classList].join('.')} "${(element.textContent ?? '').trim().slice(0, 40)}"`);
  }, PHONE.width);

/** Whether the element is shown and lies within the phone's width. */
async function onScreen(locator: Locator): Promise<boolean> {
  if (!(await locator.isVisible())) return false;
  const box = (await locator.boundingBox())!;
  return box.x >= 0 && box.x + box.width <= PHONE.width;
}

describe('the console on a 390 px phone', () => {
  test('the header fits, and the menu button opens every control, each on screen', async () => {
    expect(await pageWidth()).toBeLessThanOrEqual(PHONE.width);
    const menu = page.getByRole('button', { name: 'Menu' });
    const signOut = page.getByRole('button', { name: 'Sign out' });
    expect(await onScreen(menu)).toBe(true);
    expect(await onScreen(page.getByTestId('notification-bell'))).toBe(true);
    expect(await onScreen(page.getByLabel('Organization'))).toBe(true);
    expect(await signOut.isVisible()).toBe(false);

    await menu.click();
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const link of await nav.getByRole('link').all()) expect(await onScreen(link), await link.textContent() ?? '').toBe(true);
    expect(await nav.getByRole('link').count()).toBeGreaterThanOrEqual(8);
    expect(await onScreen(page.getByRole('button', { name: /^Online now:/ }))).toBe(true);
    expect(await onScreen(page.getByRole('button', { name: 'Account: Olivia Owner' }))).toBe(true);
    expect(await onScreen(signOut)).toBe(true);
    expect(await pageWidth()).toBeLessThanOrEqual(PHONE.width);

    // The account panel opens within the screen too.
    await page.getByRole('button', { name: 'Account: Olivia Owner' }).click();
    expect(await onScreen(page.getByText('What you may do'))).toBe(true);
    expect(await pageWidth()).toBeLessThanOrEqual(PHONE.width);
    await page.keyboard.press('Escape');

    // Following a section closes the menu.
    await nav.getByRole('link', { name: 'Requests' }).click();
    await page.getByRole('heading', { level: 1, name: 'Signing requests' }).waitFor();
    expect(await signOut.isVisible()).toBe(false);
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
  });

  test('no console page scrolls sideways', async () => {
    const paths = [
      '/',
      '/requests',
      `/requests/${requestId}`,
      '/requests/new',
      '/projects',
      `/projects/${projectId}`,
      '/build-systems',
      '/certificates',
      '/api-keys',
      '/team',
      '/audit',
      '/notifications',
      '/settings',
    ];
    const tooWide: string[] = [];
    for (const path of paths) {
      await page.goto(path);
      await page.locator('main h1').first().waitFor();
      // Lists load after the heading: measure once the page has settled.
      await page.waitForLoadState('networkidle');
      const width = await pageWidth();
      if (width > PHONE.width) tooWide.push(`${path}: ${width} px (${(await stickingOut()).join(', ')})`);
    }
    expect(tooWide).toEqual([]);
  });

  test('Sign out works from the menu', async () => {
    await page.goto('/');
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.pathname === '/signin');
    expect(await pageWidth()).toBeLessThanOrEqual(PHONE.width);
  });
});
