// Pictures of the console's main pages for the docs (docs/screenshots/<page>.png at 1280×800), taken
// over an organization filled the way a real one looks: people in every role, a CI user, projects,
// certificates, policies and signing requests in every state.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { gotoConsole, launchBrowser, newContext, screenshot, signInContext, startUiNode, type UiNode } from '../helpers/browser.js';
import { command, connect, OPERATOR, signIn, type ClientSocket } from '../helpers/signet.js';
import { ok, submitOk, randomArtifact, waitForStatus } from '../helpers/signing.js';
import { addMemberDirectly, createOrganization } from '../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../server/audit/entries.js';
import type { Certificate, Project, SigningRequest } from '../../src/lib/shared/entities.js';

const PASSWORD = 'correct horse battery staple';
const ORG = 'acme';
const PEOPLE = {
  owner: { name: 'Olivia Chen', email: 'olivia.chen@acme.example' },
  admin: { name: 'Adam Novak', email: 'adam.novak@acme.example' },
  member: { name: 'Mia Rossi', email: 'mia.rossi@acme.example' },
  developer: { name: 'Sam Patel', email: 'sam.patel@acme.example' },
  viewer: { name: 'Victor Hale', email: 'victor.hale@acme.example' },
} as const;
type Who = keyof typeof PEOPLE;

interface Demo {
  ids: Record<Who, string>;
  sockets: Record<Who, ClientSocket>;
  desktop: Project;
  waiting: SigningRequest;
}

let ui: UiNode;
let browser: Browser;
let demo: Demo;
let owner: { context: BrowserContext; page: Page };
const sockets: ClientSocket[] = [];

async function seedDemo(): Promise<Demo> {
  const { node } = ui;
  const created = await createOrganization(
    node.signet,
    { orgSlug: ORG, orgName: 'Acme Software', ownerEmail: PEOPLE.owner.email, ownerName: PEOPLE.owner.name, ownerPassword: PASSWORD },
    OPERATOR,
    CLI_SOURCE,
  );
  const ids = { owner: created.owner.userId } as Record<Who, string>;
  for (const [who, role] of [['admin', 'admin'], ['member', 'member'], ['developer', 'member'], ['viewer', 'viewer']] as const) {
    const added = await addMemberDirectly(node.signet, created.org.id, { ...PEOPLE[who], role, password: PASSWORD }, OPERATOR, CLI_SOURCE);
    ids[who] = added.userId;
  }
  const connected = {} as Record<Who, ClientSocket>;
  for (const who of Object.keys(PEOPLE) as Who[]) {
    connected[who] = await connect(node, { cookie: await signIn(node, { email: PEOPLE[who].email, password: PASSWORD }) });
    sockets.push(connected[who]);
  }
  const run = <R = any>(who: Who, name: string, input: unknown) => ok<R>(command(connected[who], name, input));

  // Projects.
  const projectInputs = [
    { slug: 'desktop-app', name: 'Desktop App', repositoryUrl: 'https://github.com/acme/desktop-app', description: 'Electron client for Windows and macOS' },
    { slug: 'mobile-sdk', name: 'Mobile SDK', repositoryUrl: 'https://github.com/acme/mobile-sdk', description: 'Android and iOS libraries for partners' },
    { slug: 'cli-tools', name: 'CLI Tools', repositoryUrl: 'https://github.com/acme/cli', description: 'The acme command line, for Linux, macOS and Windows' },
    { slug: 'legacy-updater', name: 'Legacy Updater', repositoryUrl: 'https://github.com/acme/updater', description: 'Replaced by the built-in updater in 2.0' },
  ];
  const projects: Record<string, Project> = {};
  for (const input of projectInputs) projects[input.slug] = (await run<{ project: Project }>('owner', 'project.create', input)).project;
  const legacy = projects['legacy-updater']!;
  await run('admin', 'project.update', { projectId: legacy.id, version: legacy.version, status: 'inactive' });
  const desktop = projects['desktop-app']!;
  await run('admin', 'artifactConfig.create', { projectId: desktop.id, slug: 'windows-installer', name: 'Windows installer', fileNamePattern: '*.msi', maxSizeBytes: 512 * 1024 ** 2 });
  await run('admin', 'webhook.create', { projectId: desktop.id, url: 'https://ci.acme.example/hooks/signet' });
  await run('admin', 'chatChannel.create', { projectId: desktop.id, service: 'slack', name: '#desktop-releases', url: 'https://hooks.acme.example/services/T0ACME/B0DESK/x7Qz0123456789abcdef' });

  // Certificates.
  const release = await run<Certificate>('owner', 'certificate.generate', { slug: 'release-2025', name: 'Acme Release 2025', type: 'release', algorithm: 'RSA-3072', commonName: 'Acme Software Code Signing', organization: 'Acme Software Ltd', validDays: 730 });
  const testing = await run<Certificate>('admin', 'certificate.generate', { slug: 'test-signing', name: 'Acme Test Signing', type: 'test', algorithm: 'ECDSA-P256', commonName: 'Acme Test Signing', organization: 'Acme Software Ltd', validDays: 365 });
  const old = await run<Certificate>('admin', 'certificate.generate', { slug: 'release-2023', name: 'Acme Release 2023', type: 'release', algorithm: 'ECDSA-P256', commonName: 'Acme Software Code Signing 2023', organization: 'Acme Software Ltd', validDays: 90 });
  await run('admin', 'certificate.update', { certificateId: old.id, version: old.version, disabled: true });

  // The CI user, and its token.
  const ci = await run<{ ciUser: { userId: string }; token: string }>('admin', 'ciUser.create', { name: 'GitHub Actions', role: 'member' });

  // Signing policies.
  const submitters = [ci.ciUser.userId, ids.member, ids.developer, ids.owner];
  for (const project of [desktop, projects['cli-tools']!, projects['mobile-sdk']!]) {
    await run('admin', 'policy.create', { projectId: project.id, slug: 'test-signing', name: 'Test signing', certificateId: testing.id, submitters, requiredApprovals: 0 });
  }
  for (const [project, required] of [[desktop, 1], [projects['mobile-sdk']!, 2]] as const) {
    await run('admin', 'policy.create', { projectId: project.id, slug: 'release-signing', name: 'Release signing', certificateId: release.id, submitters, approvers: [ids.admin, ids.owner], requiredApprovals: required });
  }

  // People's API keys, and an invitation not yet accepted.
  await run('owner', 'apiKey.create', { name: 'Release script', permissions: ['signing:read', 'signing:submit'] });
  await run('owner', 'apiKey.create', { name: 'Audit export (SIEM)', permissions: ['audit:read'], expiresAt: new Date(Date.now() + 90 * 86_400_000).toISOString() });
  await run('admin', 'member.invite', { email: 'lena.fischer@acme.example', role: 'member' });
  const keyOf = async (who: Who) => (await run<{ token: string }>(who, 'apiKey.create', { name: 'Build machine', permissions: ['signing:read', 'signing:submit'] })).token;
  const tokens = { ci: ci.token, member: await keyOf('member'), developer: await keyOf('developer') };

  // Signing requests in every state.
  const submit = (token: string, projectSlug: string, signingPolicySlug: string, fileName: string, description: string, size: number) =>
    submitOk(node, ORG, token, { projectSlug, signingPolicySlug, fileName, description, artifact: randomArtifact(size), parameters: { channel: signingPolicySlug === 'release-signing' ? 'stable' : 'nightly' } });
  const done: Array<Promise<unknown>> = [];
  const nightly = await submit(tokens.ci, 'cli-tools', 'test-signing', 'acme-cli-0.9.2-linux-amd64.tar.gz', 'Nightly build #1482', 48_000);
  done.push(waitForStatus(connected.owner, nightly.id, 'Completed', { ask: true }));
  const windows = await submit(tokens.member, 'desktop-app', 'release-signing', 'desktop-app-2.4.0-win-x64.msi', 'Release 2.4.0 for Windows', 96_000);
  await run('admin', 'request.approve', { requestId: windows.id, comment: 'Release notes and QA sign-off are attached to the ticket.' });
  done.push(waitForStatus(connected.owner, windows.id, 'Completed', { ask: true }));
  const rc = await submit(tokens.ci, 'mobile-sdk', 'release-signing', 'mobile-sdk-1.9.0-rc1.aar', 'Release candidate 1 of 1.9.0', 64_000);
  await run('admin', 'request.deny', { requestId: rc.id, comment: 'Release candidates go through test signing first.' });
  const beta = await submit(tokens.developer, 'desktop-app', 'test-signing', 'desktop-app-2.5.0-beta.1.dmg', 'Beta for the design review', 80_000);
  done.push(waitForStatus(connected.owner, beta.id, 'Completed', { ask: true }));
  await submit(tokens.developer, 'mobile-sdk', 'release-signing', 'mobile-sdk-1.9.0.aar', 'Mobile SDK 1.9.0', 64_000);
  const mac = await submit(tokens.member, 'desktop-app', 'release-signing', 'desktop-app-2.4.1-macos-universal.pkg', 'Hotfix 2.4.1: crash on start with a proxy configured', 120_000);
  await Promise.all(done);
  const waiting = (await ok<{ request: SigningRequest }>(command(connected.owner, 'request.get', { requestId: mac.id }))).request;
  return { ids, sockets: connected, desktop, waiting };
}

beforeAll(async () => {
  [ui, browser] = await Promise.all([startUiNode(), launchBrowser()]);
  demo = await seedDemo();
  const context = await newContext(browser, ui);
  await signInContext(context, ui, { email: PEOPLE.owner.email, password: PASSWORD });
  owner = { context, page: await context.newPage() };
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await browser?.close();
  await ui?.node.close();
});

describe('screenshots of the main pages (docs/screenshots)', () => {
  test('dashboard', async () => {
    const { page } = owner;
    await gotoConsole(page, '/');
    await page.getByRole('link', { name: 'desktop-app-2.4.1-macos-universal.pkg' }).first().waitFor();
    await page.getByRole('link', { name: 'acme-cli-0.9.2-linux-amd64.tar.gz' }).first().waitFor();
    // The charts, once the chart library has loaded and drawn them.
    await page.locator('[data-testid="chart-requests"][data-drawn="true"]').waitFor();
    await screenshot(page, 'dashboard');
  });

  test('requests', async () => {
    const { page } = owner;
    await gotoConsole(page, '/requests');
    await page.getByRole('link', { name: 'mobile-sdk-1.9.0-rc1.aar' }).first().waitFor();
    await screenshot(page, 'requests');
  });

  test('request page', async () => {
    const { page } = owner;
    await gotoConsole(page, `/requests/${demo.waiting.id}`);
    await page.getByRole('heading', { name: 'Your decision' }).waitFor();
    await page.getByRole('list', { name: 'Activity' }).waitFor();
    await screenshot(page, 'request');
  });

  test('projects', async () => {
    const { page } = owner;
    await gotoConsole(page, '/projects');
    await page.getByRole('link', { name: 'Legacy Updater' }).waitFor();
    await screenshot(page, 'projects');
  });

  test('project detail', async () => {
    const { page } = owner;
    await gotoConsole(page, `/projects/${demo.desktop.id}`);
    await page.getByRole('heading', { level: 1, name: 'Desktop App' }).waitFor();
    await page.getByText('Release signing', { exact: true }).waitFor();
    await page.getByText('Windows installer', { exact: true }).waitFor();
    await page.getByText('https://ci.acme.example/hooks/signet', { exact: true }).waitFor();
    await screenshot(page, 'project');
  });

  test('certificates', async () => {
    const { page } = owner;
    await gotoConsole(page, '/certificates');
    await page.getByRole('heading', { name: 'Acme Test Signing' }).waitFor();
    await screenshot(page, 'certificates');
  });

  test('team', async () => {
    const { page } = owner;
    await gotoConsole(page, '/team');
    await page.getByRole('rowheader', { name: 'Victor Hale' }).waitFor();
    await page.getByText('lena.fischer@acme.example', { exact: true }).waitFor();
    await screenshot(page, 'team');
  });

  test('API keys', async () => {
    const { page } = owner;
    await gotoConsole(page, '/api-keys');
    await page.getByRole('rowheader', { name: 'Audit export (SIEM)' }).waitFor();
    await screenshot(page, 'api-keys');
  });

  test('audit log', async () => {
    const { page } = owner;
    await gotoConsole(page, '/audit');
    await page.getByRole('article', { name: 'request.approve by Adam Novak' }).waitFor();
    await screenshot(page, 'audit');
  });

  test('notifications', async () => {
    const { page } = owner;
    await gotoConsole(page, '/notifications');
    await page.getByTestId('notification').first().waitFor();
    await page.getByRole('radiogroup').first().waitFor();
    expect(await page.getByTestId('notification').count()).toBeGreaterThan(0);
    await screenshot(page, 'notifications');
  });

  test('settings', async () => {
    const { page } = owner;
    await gotoConsole(page, '/settings');
    await page.getByRole('heading', { name: 'What your role allows' }).waitFor();
    await screenshot(page, 'settings');
  });

  test('sign-in', async () => {
    const context = await newContext(browser, ui);
    const page = await context.newPage();
    await page.goto('/signin');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(PEOPLE.member.email);
    await screenshot(page, 'signin');
    await context.close();
  });
});
