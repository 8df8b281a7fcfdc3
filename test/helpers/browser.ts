// Browser tests: a Signet node that serves the built console (build/handler.js) on a port of its own,
// Chromium through playwright-core, and signing in as a user (through the real form, or over REST
// from the browser context so the session cookie lands in it).
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createLogger } from '../../server/logger.js';
import { startSignetNode, type SignetNode } from '../../server/index.js';
import { freePort } from '../../server/store/localRedis.js';
import { ORIGIN, redisUrl, testConfig } from './signet.js';

export const VIEWPORT = { width: 1280, height: 800 };
/**
 * Where screenshots and the bundle measurement go: into docs/ with SIGNET_UPDATE_DOCS=1 (to refresh
 * what the README shows), otherwise into a temporary folder, so a test run leaves the tree clean.
 */
export const DOCS_DIR = process.env.SIGNET_UPDATE_DOCS === '1' ? path.resolve('docs') : path.join(os.tmpdir(), 'signet-docs');
export const SCREENSHOT_DIR = path.join(DOCS_DIR, 'screenshots');
/**
 * How long a browser wait may take: well inside vitest's 30 s test timeout (so a stuck wait reports
 * which element it waited for), and generous for a loaded 2-core machine.
 */
export const WAIT_MS = 15_000;
/** Options for vitest's expect.poll (whose default of 1 s is too short while other suites run). */
export const POLL = { timeout: WAIT_MS, interval: 50 };

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface UiNode {
  node: SignetNode;
  /** Where the browser opens the console: the only origin allowed besides localhost. */
  base: string;
}

/**
 * A node that serves the console, on a free port, with its own URL as the allowed Origin (and the
 * harness's ORIGIN, so the socket and REST helpers of test/helpers/signet.ts work against it too).
 */
export async function startUiNode(overrides: Record<string, string> = {}, url = redisUrl()): Promise<UiNode> {
  // Without a build the node serves the API only and every page would 404: say what to do instead.
  if (!existsSync(path.resolve('build/handler.js'))) throw new Error('The console is not built: run `npx vite build` (npm test does it).');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = testConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    SIGNET_PUBLIC_URL: base,
    SIGNET_ALLOWED_ORIGINS: `${base},http://localhost:${port},${ORIGIN}`,
    ...overrides,
  });
  const node = await startSignetNode({ config, redis: url, serveUi: true, logger: createLogger('silent') });
  return { node, base };
}

/** A fresh context (its own cookies and storage: one user) at the screenshot viewport. */
export async function newContext(browser: Browser, ui: UiNode): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: ui.base, viewport: VIEWPORT });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  return context;
}

/** Signs in over REST from the context (its cookie jar keeps the session) — for tests that are not about signing in. */
export async function signInContext(context: BrowserContext, ui: UiNode, user: { email: string; password: string }): Promise<void> {
  const response = await context.request.post(`${ui.base}/api/v1/auth/login`, {
    data: { email: user.email, password: user.password },
    headers: { origin: ui.base },
  });
  if (response.status() !== 200) throw new Error(`sign-in of ${user.email} failed: ${response.status()} ${await response.text()}`);
}

/** Signs in through the real sign-in page, landing on `next`. */
export async function signInThroughForm(page: Page, user: { email: string; password: string }, next = '/'): Promise<void> {
  await page.goto(`/signin?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === next);
}

/** A signed-in page of a new context, on `path` once the console is connected. */
export async function openAs(browser: Browser, ui: UiNode, user: { email: string; password: string }, path = '/'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser, ui);
  await signInContext(context, ui, user);
  const page = await context.newPage();
  await gotoConsole(page, path);
  return { context, page };
}

/** Opens a console page and waits until the shell is connected (the main navigation is shown). */
export async function gotoConsole(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** The names of the links in the main navigation. */
export async function navLabels(page: Page): Promise<string[]> {
  return (await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts()).map((text) => text.trim());
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Fonts and late layout settle before the picture is taken.
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}
