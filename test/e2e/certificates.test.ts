// The certificates page (issue 11): an admin requests a certificate from a CA through the console —
// a key in the token and a CSR for the subject they enter, the CSR downloaded, the certificate the
// CA (openssl here) issued imported — and sees each certificate's custody, what awaits a
// certificate, what lacks the code-signing EKU, and what expires soonest first, with the days left.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import { must } from '../helpers/signing.js';
import { startTestCa, type TestCa } from '../helpers/testCa.js';
import type { Certificate } from '../../src/lib/shared/entities.js';
import { useConsole } from '../helpers/consoleFixture.js';

const fx = useConsole();
const { team, open } = fx;
let ca: TestCa;

beforeAll(async () => {
  ca = await startTestCa('Browser');
  fx.onClose(() => ca.close());
});

/** A certificate's card on the page, by its name. */
const card = (page: Page, name: string): Locator => page.getByRole('listitem', { name, exact: true });

describe('requesting a certificate from a CA in the console', () => {
  test('generate a token key and CSR, download the CSR, import the certificate the CA issued', async () => {
    const page = await open(team.admin, '/certificates');
    await page.getByRole('button', { name: 'Request from a CA' }).click();
    const form = page.getByRole('form', { name: 'Request a certificate from a CA' });
    await form.getByLabel('Name', { exact: true }).fill('Browser Release');
    await form.getByLabel('Slug', { exact: true }).fill('browser-release');
    // Token custody is what the form offers first.
    expect(await form.getByRole('radio', { name: /Token \(PKCS#11\)/ }).isChecked()).toBe(true);
    await form.getByLabel('Common name (CN)').fill('Browser Corp');
    await form.getByLabel('Organization (O)').fill('Browser Corp');
    await form.getByLabel('Country (C)').fill('NL');
    await form.getByRole('button', { name: 'Generate key and CSR' }).click();

    const requested = card(page, 'Browser Release');
    await requested.getByText('awaiting certificate', { exact: true }).waitFor();
    await requested.getByText('key: token').waitFor();
    await requested.getByText(/cannot sign until it is imported/).waitFor();

    const [download] = await Promise.all([page.waitForEvent('download'), requested.getByRole('button', { name: 'Download CSR of Browser Release' }).click()]);
    expect(download.suggestedFilename()).toBe('browser-release.csr');
    const csrPem = await readFile((await download.path())!, 'utf8');
    const inspected = await ca.inspectRequest(csrPem);
    expect(inspected.status, inspected.output).toBe(0);
    expect(inspected.output).toContain('Subject: CN=Browser Corp,O=Browser Corp,C=NL');

    const leaf = await ca.issue(csrPem, { days: 12 });
    await requested.getByLabel('Issued certificate (PEM)').fill(leaf + ca.intermediatePem);
    await requested.getByRole('button', { name: 'Import issued certificate' }).click();

    await requested.getByText(/^1[12] days left$/).waitFor();
    await requested.getByText(/CN=Browser Code Signing CA/).waitFor();
    await requested.getByText('CA chain (PEM)').waitFor();
    expect(await requested.getByRole('note').count()).toBe(0);
    expect(await requested.getByRole('button', { name: /Download CSR/ }).count()).toBe(0);
  });

  test('a certificate for another key is refused with the reason; one without the code-signing EKU is taken with a visible warning', async () => {
    const awaiting = await must<Certificate>(team.owner.socket, 'certificate.generateCsr', { slug: 'tls-only', name: 'Tls Only', type: 'test', custody: 'software', commonName: 'Tls Only Test' });
    const other = await must<Certificate>(team.owner.socket, 'certificate.generateCsr', { slug: 'other-key', name: 'Other Key', type: 'test', custody: 'software', commonName: 'Other Key Test' });
    const csrOf = async (certificate: Certificate) => (await must(team.owner.socket, 'certificate.downloadCsr', { certificateId: certificate.id })).csrPem as string;

    const page = await open(team.admin, '/certificates');
    const target = card(page, 'Tls Only');
    await target.getByLabel('Issued certificate (PEM)').fill(await ca.issue(await csrOf(other)));
    await target.getByRole('button', { name: 'Import issued certificate' }).click();
    await target.getByText(/is not this certificate's key/).first().waitFor();
    await target.getByText('awaiting certificate', { exact: true }).waitFor();

    await target.getByLabel('Issued certificate (PEM)').fill(await ca.issue(await csrOf(awaiting), { extendedKeyUsage: 'serverAuth' }));
    await target.getByRole('button', { name: 'Import issued certificate' }).click();
    await target.getByRole('note').getByText(/does not allow code signing/).waitFor();
    await target.getByText('key: software').waitFor();
  });
});

describe('the list', () => {
  test('shows what awaits a certificate first, then the soonest to expire, with the days left; each with its custody', async () => {
    await must(team.owner.socket, 'certificate.generate', { slug: 'long', name: 'Long Lived', type: 'test', commonName: 'Long Test', validDays: 900 });
    await must(team.owner.socket, 'certificate.generate', { slug: 'short', name: 'Short Lived', type: 'test', custody: 'pkcs11', commonName: 'Short Test', validDays: 3 });
    const page = await open(team.viewer, '/certificates');
    await card(page, 'Short Lived').waitFor();
    const names = await page.getByRole('list', { name: 'Certificates' }).getByRole('heading', { level: 2 }).allInnerTexts();
    // The tests above added theirs: what matters is the order of these.
    const order = ['Other Key', 'Short Lived', 'Browser Release', 'Long Lived'].map((name) => names.indexOf(name));
    expect(order.every((index) => index >= 0), names.join(', ')).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    await card(page, 'Short Lived').getByText(/^[23] days left$/).waitFor();
    await card(page, 'Short Lived').getByText('key: token').waitFor();
    await card(page, 'Long Lived').getByText(/^(899|900) days left$/).waitFor();
    await card(page, 'Long Lived').getByText('key: software').waitFor();
    // A viewer sees all of it, but none of the controls.
    expect(await page.getByRole('button', { name: /Download CSR|Import issued certificate|Request from a CA/ }).count()).toBe(0);
  });
});
