// The fixture of a browser test file: a node serving the built console, Chromium, an organization
// whose people are signed in and connected (`team`, their sockets set up data as commands do), pages
// signed in as someone, and teardown. A file calls `useConsole()` once at its top:
//
//   const fx = useConsole();
//   const { team, open } = fx;
//   it('a viewer sees no Approve button', async () => { const page = await open(team.viewer, '/requests'); … });
//
// `fx.ui`, `fx.browser` and `fx.org` are set once the file's first beforeAll ran; `team` and the
// functions are the same objects throughout. Contexts from `open`/`openContext`/`newPage` close after
// each test; the rest after the file.
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Role } from '../../src/lib/shared/permissions.js';
import { launchBrowser, newContext, openAs, startUiNode, type UiNode } from './browser.js';
import { connect, redisUrl, seedOrg, type ClientSocket, type ConnectOptions, type TestOrg } from './signet.js';
import { people, removeDir, tempDir, type Person } from './signing.js';

export interface ConsoleFixtureOptions<Extra extends string = never> {
  /** Configuration variables of the node, or a function called when it starts (for receivers and directories made then). */
  env?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** The Redis the node uses (the run's unless told). */
  redis?: () => string;
  /** Seed an organization (default). */
  org?: boolean;
  /** Sign in and connect the organization's people (default); an object adds members (key: display name). */
  people?: boolean | Record<Extra, string>;
}

export interface ConsoleFixture<Extra extends string = never> {
  readonly ui: UiNode;
  readonly browser: Browser;
  readonly org: TestOrg;
  /** One person per role (and the further members), signed in and connected. */
  readonly team: Record<Role | Extra, Person>;
  /** A page of a new context signed in as `user`, on `path` once the console is connected. */
  open(user: { email: string; password: string }, path: string): Promise<Page>;
  /** The same, with its context. */
  openContext(user: { email: string; password: string }, path: string): Promise<{ context: BrowserContext; page: Page }>;
  /** A new context (signed out, at the screenshot viewport). */
  newContext(): Promise<BrowserContext>;
  /** A signed-out page of a new context. */
  newPage(): Promise<Page>;
  /** A Socket.IO client of the node (the console's protocol, without a browser), closed after the file. */
  openSocket(options: ConnectOptions): Promise<ClientSocket>;
  /** Runs after the file, once the sockets are closed; last registered, first run (the node and browser close in that order too). */
  onClose(cleanup: () => unknown): void;
  /** A scratch directory, removed after the file. */
  tempDir(prefix: string): string;
}

export function useConsole<Extra extends string = never>(options: ConsoleFixtureOptions<Extra> = {}): ConsoleFixture<Extra> {
  let ui: UiNode | undefined;
  let browser: Browser | undefined;
  let org: TestOrg | undefined;
  const team = {} as Record<Role | Extra, Person>;
  const sockets: ClientSocket[] = [];
  const contexts: BrowserContext[] = [];
  const cleanups: Array<() => unknown> = [];
  const onClose = (cleanup: () => unknown) => void cleanups.push(cleanup);
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the fixture has no ${what} yet: use it inside a test or a beforeAll after useConsole()`);
    return value;
  };

  beforeAll(async () => {
    const env = typeof options.env === 'function' ? await options.env() : options.env ?? {};
    const [startedUi, launched] = await Promise.all([startUiNode(env, options.redis?.() ?? redisUrl()), launchBrowser()]);
    ui = startedUi;
    browser = launched;
    onClose(() => startedUi.node.close());
    onClose(() => launched.close());
    if (options.org === false) return;
    org = await seedOrg(ui.node);
    if (options.people === false) return;
    const extra = (typeof options.people === 'object' ? options.people : {}) as Record<Extra, string>;
    Object.assign(team, await people(ui.node, org, extra, sockets));
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const openContext = async (user: { email: string; password: string }, path: string) => {
    const opened = await openAs(need(browser, 'browser'), need(ui, 'node'), user, path);
    contexts.push(opened.context);
    return opened;
  };

  const freshContext = async () => {
    const context = await newContext(need(browser, 'browser'), need(ui, 'node'));
    contexts.push(context);
    return context;
  };

  return {
    get ui() {
      return need(ui, 'node');
    },
    get browser() {
      return need(browser, 'browser');
    },
    get org() {
      return need(org, 'organization');
    },
    team,
    open: async (user, path) => (await openContext(user, path)).page,
    openContext,
    newContext: freshContext,
    async openSocket(connectOptions) {
      const socket = await connect(need(ui, 'node').node, connectOptions);
      sockets.push(socket);
      return socket;
    },
    newPage: async () => (await freshContext()).newPage(),
    onClose,
    tempDir(prefix) {
      const dir = tempDir(prefix);
      onClose(() => removeDir(dir));
      return dir;
    },
  };
}
