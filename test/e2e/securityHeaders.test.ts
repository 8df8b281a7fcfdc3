// The console in a real browser under its security headers (issue 10, hole 5): a page on another
// origin cannot frame it (no clickjacking of Approve), a script injected into the console does not
// run, and the console itself still works under the policy (sign-in, live socket, pages) without a
// single CSP violation. Each refusal has a control on a page without the headers, which shows the
// same attempt succeeding there, so the test could fail.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { gotoConsole, POLL, signInThroughForm } from '../helpers/browser.js';
import { useConsole } from '../helpers/consoleFixture.js';

const fx = useConsole({ people: false });
/** Another origin (another loopback port) that serves whatever page a test puts at a path. */
let elsewhere: { base: string; server: http.Server; pages: Map<string, string> };

function startElsewhere(): Promise<typeof elsewhere> {
  const pages = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const page = pages.get(req.url ?? '');
    res.writeHead(page === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page ?? 'not found');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, pages })),
  );
}

beforeAll(async () => {
  elsewhere = await startElsewhere();
  fx.onClose(() => new Promise((resolve) => elsewhere.server.close(resolve)));
});

const { newPage } = fx;

/** Console messages in which Chromium reports a Content-Security-Policy refusal. */
function cspReports(page: Page): string[] {
  const reports: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|frame-ancestors/i.test(message.text())) reports.push(message.text());
  });
  return reports;
}

describe('framing', () => {
  test('a page on another origin that frames the console gets nothing: the frame is refused, the sign-in form never appears in it', async () => {
    // The control: a frame of an ordinary page, beside the console's.
    elsewhere.pages.set('/plain', '<!doctype html><title>plain</title><p id="plain">framed fine</p>');
    elsewhere.pages.set(
      '/clickjack',
      `<!doctype html><title>win a prize</title>
       <iframe id="control" src="${elsewhere.base}/plain"></iframe>
       <iframe id="console" src="${fx.ui.base}/signin" style="opacity:0.01"></iframe>`,
    );
    const page = await newPage();
    const reports = cspReports(page);
    await page.goto(`${elsewhere.base}/clickjack`);

    // The control frame loads and shows its content.
    const control = page.frameLocator('#control');
    await control.locator('#plain').waitFor();
    expect(await control.locator('#plain').textContent()).toBe('framed fine');

    // The console's frame is refused: Chromium reports frame-ancestors and shows its error page instead.
    await expect.poll(() => reports.some((text) => text.includes("frame-ancestors 'none'")), POLL).toBe(true);
    const consoleFrame = page.frames().find((frame) => frame !== page.mainFrame() && !frame.url().startsWith(elsewhere.base));
    expect(consoleFrame?.url()).toMatch(/^chrome-error:/);
    expect(await page.frameLocator('#console').getByRole('button', { name: 'Sign in' }).count()).toBe(0);

    // Opened directly, the same page shows the form (what the frame would have shown).
    const direct = await newPage();
    await direct.goto('/signin');
    await direct.getByRole('button', { name: 'Sign in' }).waitFor();
  });
});

describe('injected scripts', () => {
  /**
   * Injects a script element and an inline event handler into the page; resolves with what happened.
   * (Not eval: code run through the DevTools protocol, as this is, may eval whatever the page's policy.)
   */
  function inject(page: Page) {
    return page.evaluate(
      () =>
        new Promise<{ violations: string[]; scriptRan: boolean; handlerRan: boolean }>((resolve) => {
          const flags = window as unknown as { __scriptRan?: boolean; __handlerRan?: boolean };
          const violations: string[] = [];
          document.addEventListener('securitypolicyviolation', (event) => violations.push(event.effectiveDirective));
          const script = document.createElement('script');
          script.textContent = 'window.__scriptRan = true;';
          document.body.append(script);
          const holder = document.createElement('div');
          // What an XSS through unescaped markup looks like: an inline handler on a broken image.
          holder.innerHTML = '<img src="data:," onerror="window.__handlerRan = true">';
          document.body.append(holder);
          // Reports are delivered as tasks: wait for the image's error (and its report) to have happened.
          holder.querySelector('img')!.addEventListener('error', () =>
            setTimeout(() => resolve({ violations, scriptRan: flags.__scriptRan === true, handlerRan: flags.__handlerRan === true }), 0),
          );
        }),
    );
  }

  test('an inline script and an inline event handler injected into the console are blocked and reported', async () => {
    const page = await newPage();
    await page.goto('/signin');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const outcome = await inject(page);
    expect(outcome).toMatchObject({ scriptRan: false, handlerRan: false });
    expect(outcome.violations).toEqual(expect.arrayContaining(['script-src-elem', 'script-src-attr']));

    // The control: the same injection on a page without the headers runs both.
    elsewhere.pages.set('/open', '<!doctype html><title>no policy</title><p>no policy here</p>');
    const control = await newPage();
    await control.goto(`${elsewhere.base}/open`);
    expect(await inject(control)).toEqual({ violations: [], scriptRan: true, handlerRan: true });
  });
});

describe('the console under its policy', () => {
  test('signing in, the live socket and the pages work without a single CSP violation', async () => {
    const page = await newPage();
    const reports = cspReports(page);
    await signInThroughForm(page, fx.org.users.admin, '/');
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    // /projects twice: the second load revalidates the cached page (304), which must keep its policy.
    for (const [path, heading] of [['/projects', 'Projects'], ['/audit', 'Audit log'], ['/api-keys', 'API keys'], ['/projects', 'Projects'], ['/team', 'Team']] as const) {
      await gotoConsole(page, path);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    }
    // The team page's rows come over the socket (a refused WebSocket would leave it loading).
    await page.getByRole('rowheader', { name: 'Victor Viewer' }).waitFor();
    expect(reports).toEqual([]);
  });
});
