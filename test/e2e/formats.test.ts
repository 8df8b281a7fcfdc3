// Signature formats in the console: an administrator picks an artifact configuration's format when
// creating and editing it; a request page shows the format, the timestamp (or a visible "No
// timestamp" mark with the reason) and offers the signed file under its own name.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { POLL } from '../helpers/browser.js';
import { createApiKey, createPolicy, createProject, download, generateCertificate, must, submitOk, waitForStatus } from '../helpers/signing.js';
import { minimalPe } from '../helpers/fixtures.js';
import { silentTsaUrl, startTestTsa, type TestTsa } from '../helpers/tsa.js';
import type { ArtifactConfiguration, Certificate, Project } from '../../src/lib/shared/entities.js';
import { useConsole } from '../helpers/consoleFixture.js';

let tsa: TestTsa;
let artifactDir: string;
const fx = useConsole({
  env: async () => {
    artifactDir = fx.tempDir('signet-e2e-formats-');
    tsa = await startTestTsa();
    fx.onClose(() => tsa.close());
    return { SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_TSA_URL: tsa.url };
  },
});
const { team, open } = fx;
let project: Project;
let certificate: Certificate;
let token: string;

beforeAll(async () => {
  project = await createProject(team.owner.socket, 'windows-app');
  certificate = await generateCertificate(team.owner.socket, 'windows-cert', { algorithm: 'RSA-2048' });
  token = await createApiKey(team.member.socket);
});

describe('artifact configuration format', () => {
  test('an administrator chooses it when creating, sees it in the list, and changes it when editing', async () => {
    const page = await open(fx.org.users.admin, `/projects/${project.id}`);
    await page.getByRole('button', { name: 'New artifact configuration' }).click();
    const form = page.getByRole('form', { name: 'New artifact configuration' });
    await form.getByLabel('Slug').fill('installers');
    await form.getByLabel('Name', { exact: true }).fill('Installers');
    await form.getByLabel('Signature format').selectOption({ label: 'Authenticode (signed in place)' });
    await expect.poll(() => form.getByText(/signed in place; Windows and osslsigncode verify/).count(), POLL).toBe(1);
    await form.getByRole('button', { name: 'Create artifact configuration' }).click();
    const row = page.getByRole('row').filter({ hasText: 'installers' });
    await expect.poll(() => row.getByText('Authenticode (signed in place)').count(), POLL).toBe(1);
    const created = (await must<ArtifactConfiguration[]>(team.owner.socket, 'artifactConfig.list', { projectId: project.id })).find((c) => c.slug === 'installers');
    expect(created?.signatureFormat).toBe('authenticode');

    await row.getByRole('button', { name: 'Edit installers' }).click();
    const edit = page.getByRole('form', { name: 'Edit artifact configuration installers' });
    await edit.getByLabel('Signature format').selectOption('openpgp-detached');
    await edit.getByRole('button', { name: 'Save artifact configuration' }).click();
    await expect.poll(() => row.getByText('Detached OpenPGP (.asc)').count(), POLL).toBe(1);
    const edited = (await must<ArtifactConfiguration[]>(team.owner.socket, 'artifactConfig.list', { projectId: project.id })).find((c) => c.slug === 'installers');
    expect(edited?.signatureFormat).toBe('openpgp-detached');
  });

  test('a viewer sees each configuration\'s format but no form to change it', async () => {
    const page = await open(fx.org.users.viewer, `/projects/${project.id}`);
    await expect.poll(() => page.getByRole('cell', { name: 'Detached CMS (.p7s)' }).count(), POLL).toBeGreaterThan(0);
    expect(await page.getByRole('button', { name: 'New artifact configuration' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Edit / }).count()).toBe(0);
  });
});

describe('a request page', () => {
  test('shows an Authenticode request\'s format and timestamp, and downloads the signed .exe under its own name', async () => {
    await must(team.owner.socket, 'artifactConfig.create', { projectId: project.id, slug: 'exe', name: 'Executables', signatureFormat: 'authenticode' });
    const policy = await createPolicy(team.owner.socket, { projectId: project.id, slug: 'auto', certificateId: certificate.id, submitters: [team.member.userId] });
    const submitted = await submitOk(fx.ui.node, fx.org.slug, token, { projectSlug: project.slug, signingPolicySlug: policy.slug, fields: { artifactConfigurationSlug: 'exe' }, artifact: minimalPe(), fileName: 'tool.exe' });
    const done = await waitForStatus(team.owner.socket, submitted.id, 'Completed', { ask: true });

    const page = await open(fx.org.users.member, `/requests/${submitted.id}`);
    await expect.poll(() => page.getByTestId('signature-format').textContent(), POLL).toBe('Authenticode (signed in place)');
    await expect.poll(() => page.getByTestId('signature-timestamp').textContent(), POLL).toContain(`by ${new URL(tsa.url).host}`);
    const link = page.getByRole('link', { name: /Download signed file/ });
    expect(await link.getAttribute('download')).toBe('tool.exe');
    const [file] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(file.suggestedFilename()).toBe('tool.exe');
    const saved = path.join(artifactDir, 'downloaded.exe');
    await file.saveAs(saved);
    expect(readFileSync(saved).equals(await download(fx.ui.node, fx.org.slug, token, done.id, 'signed-artifact'))).toBe(true);
  });

  test('marks a request signed without a timestamp, with the reason, when its policy allowed that', async () => {
    const lenient = await must<{ slug: string }>(team.owner.socket, 'policy.create', {
      projectId: project.id, slug: 'lenient', name: 'Lenient', certificateId: certificate.id, submitters: [team.member.userId], tsaUrl: await silentTsaUrl(), allowWithoutTimestamp: true,
    });
    const submitted = await submitOk(fx.ui.node, fx.org.slug, token, { projectSlug: project.slug, signingPolicySlug: lenient.slug, fields: { artifactConfigurationSlug: 'exe' }, artifact: minimalPe(), fileName: 'late.exe' });
    await waitForStatus(team.owner.socket, submitted.id, 'Completed', { ask: true });
    const page = await open(fx.org.users.member, `/requests/${submitted.id}`);
    const stamp = page.getByTestId('signature-timestamp');
    await expect.poll(() => stamp.getByText('No timestamp', { exact: true }).count(), POLL).toBe(1);
    expect(await stamp.textContent()).toMatch(/did not answer.*signed without a timestamp, as signing policy lenient allows/);
  });
});
