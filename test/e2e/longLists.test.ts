// Long lists stay light: with 10,000 audit entries loaded into the audit page, only the rows in and
// near view are in the document, wherever the reader scrolls. (A structural check: the number of
// rendered rows, not a timing.)
import { beforeAll, describe, expect, test } from 'vitest';
import { openAs, POLL } from '../helpers/browser.js';
import { OPERATOR } from '../helpers/signet.js';
import { commit } from '../../server/store/commit.js';
import { auditDraft, CLI_SOURCE } from '../../server/audit/entries.js';
import { useConsole } from '../helpers/consoleFixture.js';

const ENTRIES = 10_000;
const fx = useConsole({ people: false });

beforeAll(async () => {
  const { redis, keys } = fx.ui.node.signet;
  // Written as commands write them (one commit each), in parallel batches.
  for (let written = 0; written < ENTRIES; written += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        commit(redis, keys, 100_000, {
          audits: [
            auditDraft({
              orgId: fx.org.orgId,
              actor: OPERATOR,
              action: 'project.update',
              target: { type: 'project', id: `p${written + i}`, name: `Project ${written + i}` },
              changes: { name: { before: `Old ${written + i}`, after: `Project ${written + i}` } },
              source: CLI_SOURCE,
            }),
          ],
        }),
      ),
    );
  }
}, 120_000);

describe('the audit page with 10,000 entries', () => {
  test('loads them all as the reader scrolls, yet keeps only a window of rows in the document', async () => {
    const { page, context } = await openAs(fx.browser, fx.ui, fx.org.users.owner, '/audit');
    const region = page.getByRole('region', { name: 'Audit entries (scrollable)' });
    await region.waitFor();
    // "1,234 entries, older ones load as you scroll"
    const loaded = async () => Number(/^([\d,.\s\u202f]+)/.exec(await page.getByTestId('audit-count').innerText())?.[1]!.replace(/\D/g, '') ?? 0);
    const rendered = () => page.getByRole('listitem').count();
    const counts: number[] = [];
    for (let round = 0; round < 200 && (await loaded()) < ENTRIES; round++) {
      const before = await loaded();
      await region.evaluate((node) => (node.scrollTop = node.scrollHeight));
      await expect.poll(loaded, POLL).toBeGreaterThan(before);
      counts.push(await rendered());
    }
    expect(await loaded()).toBeGreaterThanOrEqual(ENTRIES);
    // At the end, in the middle and at the top: a window of rows, never thousands.
    counts.push(await rendered());
    await region.evaluate((node) => (node.scrollTop = node.scrollHeight / 2));
    await expect.poll(rendered, POLL).toBeGreaterThan(0);
    counts.push(await rendered());
    await region.evaluate((node) => (node.scrollTop = 0));
    counts.push(await rendered());
    expect(Math.max(...counts)).toBeLessThan(150);
    await context.close();
  }, 180_000);
});
