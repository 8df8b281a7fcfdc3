// axe-core finds no serious or critical accessibility violation on any page of the console: the
// signed-out pages, every page as the owner (who sees every control), and the pages that differ for
// a viewer (read-only) and a member (a submitter, not an approver). One browser, pages in sequence.
//
// The console's CSP allows no inline script, so axe is not added with a <script> tag: Playwright's
// addInitScript evaluates its source through the DevTools protocol
// (Page.addScriptToEvaluateOnNewDocument), which the page's CSP does not govern, in every document
// the context opens.
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { signInContext, WAIT_MS } from '../helpers/browser.js';
import {
  createApiKey,
  createPolicy,
  createProject,
  generateCertificate,
  must,
  randomArtifact,
  submitOk,
  waitForStatus,
  type Person,
} from '../helpers/signing.js';
import { useConsole } from '../helpers/consoleFixture.js';

const AXE_SOURCE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const BLOCKING = ['serious', 'critical'];

// The owner opens every console page twice in a few seconds (each load a handshake and a handful of
// reads): far more than a person does, so the per-actor burst allowance is raised for this file.
const fx = useConsole({ env: { SIGNET_RATE_LIMIT_BURST: '1000' } });
const { team } = fx;
let projectId: string;
let waitingId: string;
let completedId: string;
let inviteToken: string;

beforeAll(async () => {
  const project = await createProject(team.owner.socket, 'desktop-app');
  projectId = project.id;
  const certificate = await generateCertificate(team.owner.socket, 'release-cert');
  await createPolicy(team.owner.socket, { projectId, slug: 'nightly', certificateId: certificate.id, submitters: [team.member.userId] });
  await createPolicy(team.owner.socket, {
    projectId,
    slug: 'release',
    certificateId: certificate.id,
    submitters: [team.member.userId],
    approvers: [team.owner.userId, team.admin.userId],
    requiredApprovals: 1,
  });
  await must(team.owner.socket, 'buildSystem.create', {
    name: 'GitHub Actions',
    issuer: 'https://token.actions.githubusercontent.com',
    audience: 'signet',
    jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] },
  });
  const token = await createApiKey(team.member.socket, 'member ci');
  await must(team.owner.socket, 'apiKey.create', { name: 'Audit export', permissions: ['audit:read'] });
  const submit = (policy: string, fileName: string) => submitOk(fx.ui.node, fx.org.slug, token, { projectSlug: 'desktop-app', signingPolicySlug: policy, artifact: randomArtifact(512), fileName, description: 'Built by CI' });
  completedId = (await submit('nightly', 'desktop-app-nightly.msi')).id;
  await waitForStatus(team.owner.socket, completedId, 'Completed', { ask: true });
  waitingId = (await submit('release', 'desktop-app-2.0.msi')).id;
  const invited = await must<{ inviteLink: string }>(team.owner.socket, 'member.invite', { email: 'new.hire@example.com', role: 'member' });
  inviteToken = new URL(invited.inviteLink).searchParams.get('token')!;
});

/** A context with axe in every document it opens, signed in as `user` (or signed out). */
async function contextFor(user: Person | null, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
  const context = await fx.newContext();

  await context.addInitScript({ path: AXE_SOURCE });
  if (user) await signInContext(context, fx.ui, user);
  const page = await context.newPage();
  await page.emulateMedia({ colorScheme });
  return page;
}

interface Found {
  rule: string;
  impact: string;
  help: string;
  nodes: string[];
}

/** Opens `path`, waits until it has loaded what it shows, and runs axe on the whole document. */
async function violationsOn(page: Page, path: string, ready: (page: Page) => Promise<unknown>): Promise<Found[]> {
  await page.goto(path);
  await ready(page);
  // Lists load after the heading: axe looks once nothing is loading any more.
  await page.waitForFunction(() => !/(Loading|Connecting)…/.test(document.querySelector('main')?.textContent ?? document.body.textContent ?? ''), null, { timeout: WAIT_MS });
  return violationsNow(page, path);
}

/** axe on the document as it is now: the serious and critical violations. */
async function violationsNow(page: Page, where: string): Promise<Found[]> {
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document): Promise<{ passes: unknown[]; violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[]; failureSummary?: string }> }> }> } }).axe;
    const { passes, violations } = await axe.run(document);
    return {
      passes: passes.length,
      violations: violations.map((v) => ({ rule: v.id, impact: v.impact ?? 'unknown', help: v.help, nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} — ${n.failureSummary ?? ''}`) })),
    };
  });
  // axe ran and looked at something (a page it could not see would pass vacuously).
  expect(result.passes, `axe checked nothing on ${where}`).toBeGreaterThan(10);
  return result.violations.filter((violation) => BLOCKING.includes(violation.impact));
}

const heading = (name: string | RegExp) => (page: Page) => page.getByRole('heading', { level: 1, name }).waitFor();
const consolePages = (): Array<[string, (page: Page) => Promise<unknown>]> => [
  ['/', async (page) => {
    await heading('Dashboard')(page);
    await page.getByTestId('chart-requests').waitFor();
  }],
  ['/requests', heading('Signing requests')],
  [`/requests/${waitingId}`, heading('desktop-app-2.0.msi')],
  [`/requests/${completedId}`, heading('desktop-app-nightly.msi')],
  ['/requests/new', heading('New signing request')],
  ['/projects', heading('Projects')],
  [`/projects/${projectId}`, heading(/desktop-app/)],
  ['/build-systems', heading('Trusted build systems')],
  ['/certificates', heading('Certificates')],
  ['/api-keys', heading('API keys')],
  ['/team', heading('Team')],
  ['/audit', heading('Audit log')],
  ['/notifications', heading('Notifications')],
  ['/settings', heading('Settings')],
];

async function audit(page: Page, pages: Array<[string, (page: Page) => Promise<unknown>]>): Promise<Record<string, Found[]>> {
  const found: Record<string, Found[]> = {};
  for (const [path, ready] of pages) {
    const violations = await violationsOn(page, path, ready);
    if (violations.length) found[path] = violations;
  }
  return found;
}

describe('axe-core finds no serious or critical violation', () => {
  test('on the signed-out pages', async () => {
    const page = await contextFor(null);
    expect(
      await audit(page, [
        ['/signin', (p) => p.getByRole('button', { name: 'Sign in' }).waitFor()],
        ['/setup', (p) => p.getByRole('heading', { level: 1 }).waitFor()],
        [`/accept-invite?token=${encodeURIComponent(inviteToken)}`, (p) => p.getByRole('heading', { level: 1 }).waitFor()],
      ]),
    ).toEqual({});
  });

  test('on every console page, as the owner', async () => {
    expect(await audit(await contextFor(team.owner), consolePages())).toEqual({});
  });

  test('on every console page, as the owner, in the dark color scheme', async () => {
    const page = await contextFor(team.owner, 'dark');
    expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(true);
    expect(await audit(page, consolePages())).toEqual({});
  });

  test("with the header's panels and the charts' tables open", async () => {
    const page = await contextFor(team.owner);
    const [path, ready] = consolePages()[0]!;
    expect(await violationsOn(page, path, ready)).toEqual([]);
    for (const summary of await page.getByText('Show the numbers').all()) await summary.click();
    await page.getByRole('button', { name: /^Online now:/ }).click();
    await page.getByRole('list', { name: 'Online now' }).waitFor();
    expect(await violationsNow(page, 'the dashboard, who is online open')).toEqual([]);
    await page.getByRole('button', { name: /^Account:/ }).click();
    await page.getByText('What you may do').click();
    expect(await violationsNow(page, 'the dashboard, the account open')).toEqual([]);
  });

  test('on the pages a viewer and a member see differently', async () => {
    const differ = (paths: string[]) => consolePages().filter(([path]) => paths.includes(path));
    expect(await audit(await contextFor(team.viewer), differ(['/', `/requests/${waitingId}`, `/projects/${projectId}`, '/certificates', '/team', '/settings']))).toEqual({});
    expect(await audit(await contextFor(team.member), differ(['/', `/requests/${waitingId}`, '/requests/new', '/api-keys', '/notifications']))).toEqual({});
  });
});
