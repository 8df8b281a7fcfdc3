// The size budget of the first page: every JavaScript file the sign-in page loads in the browser,
// gzipped, adds up to less than 150 KB. The measurement is written to bundle-size.json in DOCS_DIR.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Response } from 'playwright-core';
import { DOCS_DIR, launchBrowser, newContext, startUiNode, type UiNode } from '../helpers/browser.js';

const BUDGET_BYTES = 150 * 1024;

let ui: UiNode;
let browser: Browser;

beforeAll(async () => {
  [ui, browser] = await Promise.all([startUiNode(), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await ui?.node.close();
});

const isJavaScript = (response: Response) =>
  response.request().resourceType() === 'script' ||
  /javascript/.test(response.headers()['content-type'] ?? '') ||
  /\.m?js(\?|$)/.test(new URL(response.url()).pathname);

test('the sign-in page loads less than 150 KB of gzipped JavaScript', async () => {
  const context = await newContext(browser, ui);
  const page = await context.newPage();
  const bodies = new Map<string, Promise<Buffer>>();
  page.on('response', (response) => {
    if (response.status() !== 200 || !isJavaScript(response)) return;
    const url = new URL(response.url());
    if (url.origin !== ui.base) return;
    if (!bodies.has(url.pathname)) bodies.set(url.pathname, response.body());
  });
  await page.goto('/signin', { waitUntil: 'networkidle' });
  await page.getByRole('button', { name: 'Sign in' }).waitFor();

  const files = [];
  for (const [file, body] of bodies) {
    const bytes = await body;
    files.push({ file, bytes: bytes.length, gzipBytes: gzipSync(bytes).length });
  }
  files.sort((a, b) => b.gzipBytes - a.gzipBytes);
  const firstPageJsGzipBytes = files.reduce((sum, f) => sum + f.gzipBytes, 0);
  mkdirSync(path.resolve('docs'), { recursive: true });
  mkdirSync(DOCS_DIR, { recursive: true });
  writeFileSync(path.join(DOCS_DIR, 'bundle-size.json'), `${JSON.stringify({ page: '/signin', firstPageJsGzipBytes, budgetBytes: BUDGET_BYTES, files }, null, 2)}\n`);
  await context.close();

  expect(files.length).toBeGreaterThan(0);
  expect(firstPageJsGzipBytes).toBeLessThan(BUDGET_BYTES);
});
