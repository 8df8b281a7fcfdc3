// The size budget of the first page: every JavaScript file the sign-in page loads in the browser,
// gzipped, adds up to less than 150 KB. The dashboard's chart library (Chart.js) is loaded by the
// dashboard alone, after it opened: neither the sign-in page nor any other console page downloads it.
// The measurements are written to bundle-size.json in DOCS_DIR.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, test } from 'vitest';
import type { Page, Response } from 'playwright-core';
import { DOCS_DIR, gotoConsole, newContext, signInContext } from '../helpers/browser.js';
import { seedOrg } from '../helpers/signet.js';
import { useConsole } from '../helpers/consoleFixture.js';

const BUDGET_BYTES = 150 * 1024;
/** The build's own record of which file holds which module (written by `vite build`). */
const MANIFEST = path.resolve('.svelte-kit/output/client/.vite/manifest.json');

const fx = useConsole({ org: false });
const report: Record<string, unknown> = {};

const isJavaScript = (response: Response) =>
  response.request().resourceType() === 'script' ||
  /javascript/.test(response.headers()['content-type'] ?? '') ||
  /\.m?js(\?|$)/.test(new URL(response.url()).pathname);

interface LoadedFile {
  file: string;
  bytes: number;
  gzipBytes: number;
}

/** Every JavaScript file of the console's origin the page loads while `visit` runs, largest first. */
async function javaScriptLoaded(page: Page, visit: () => Promise<unknown>): Promise<LoadedFile[]> {
  const bodies = new Map<string, Promise<Buffer>>();
  const record = (response: Response) => {
    if (response.status() !== 200 || !isJavaScript(response)) return;
    const url = new URL(response.url());
    if (url.origin !== fx.ui.base) return;
    if (!bodies.has(url.pathname)) bodies.set(url.pathname, response.body());
  };
  page.on('response', record);
  await visit();
  page.off('response', record);
  const files: LoadedFile[] = [];
  for (const [file, body] of bodies) {
    const bytes = await body;
    files.push({ file, bytes: bytes.length, gzipBytes: gzipSync(bytes).length });
  }
  return files.sort((a, b) => b.gzipBytes - a.gzipBytes);
}

const total = (files: LoadedFile[]) => files.reduce((sum, f) => sum + f.gzipBytes, 0);

/** The file the dashboard's chart module (with Chart.js) was bundled into. */
function chartFile(): string {
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, { file: string }>;
  const entry = manifest['src/lib/dashboard/chartjs.ts'];
  if (!entry) throw new Error(`${MANIFEST} names no chunk for src/lib/dashboard/chartjs.ts: is it still loaded with a dynamic import?`);
  return `/_app/${entry.file.replace(/^_app\//, '')}`;
}

test('the sign-in page loads less than 150 KB of gzipped JavaScript, and no chart library', async () => {
  const context = await newContext(fx.browser, fx.ui);
  const page = await context.newPage();
  const files = await javaScriptLoaded(page, async () => {
    await page.goto('/signin', { waitUntil: 'networkidle' });
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });
  const firstPageJsGzipBytes = total(files);
  Object.assign(report, { page: '/signin', firstPageJsGzipBytes, budgetBytes: BUDGET_BYTES, files });
  writeReport();
  await context.close();

  expect(files.length).toBeGreaterThan(0);
  expect(firstPageJsGzipBytes).toBeLessThan(BUDGET_BYTES);
  expect(files.map((f) => f.file)).not.toContain(chartFile());
});

test('the chart library is loaded by the dashboard only', async () => {
  const org = await seedOrg(fx.ui.node);
  const context = await newContext(fx.browser, fx.ui);
  await signInContext(context, fx.ui, org.users.viewer);
  const page = await context.newPage();
  const elsewhere = await javaScriptLoaded(page, () => gotoConsole(page, '/certificates'));
  expect(elsewhere.map((f) => f.file)).not.toContain(chartFile());

  // A fresh page, so that what the dashboard loads is counted whole.
  const dashboardPage = await context.newPage();
  const dashboard = await javaScriptLoaded(dashboardPage, async () => {
    await gotoConsole(dashboardPage, '/');
    await dashboardPage.getByTestId('chart-requests').waitFor();
    await dashboardPage.waitForLoadState('networkidle');
  });
  const chart = dashboard.find((f) => f.file === chartFile());
  expect(chart).toBeDefined();
  report.dashboard = { page: '/', jsGzipBytes: total(dashboard), chartLibraryGzipBytes: chart!.gzipBytes };
  writeReport();
  await context.close();
});

function writeReport(): void {
  mkdirSync(DOCS_DIR, { recursive: true });
  writeFileSync(path.join(DOCS_DIR, 'bundle-size.json'), `${JSON.stringify(report, null, 2)}\n`);
}
