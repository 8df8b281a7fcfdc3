// An audit viewer's browser remembers the highest signed checkpoint it was shown, per organization,
// and the audit page warns when it is later shown a lower one (SPEC §6, issue 10). The rollback is
// done in Redis, as an attacker with write access to it would: a whole, validly signed, shorter chain.
import { describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { gotoConsole, POLL } from '../helpers/browser.js';
import { auditSealed, seedOrg, signIn } from '../helpers/signet.js';
import { must } from '../helpers/signing.js';
import { rollBackAuditLog, sealedSizes } from '../helpers/auditRollback.js';
import { useConsole } from '../helpers/consoleFixture.js';

let recordDir: string;
const fx = useConsole({
  org: false,
  env: () => {
    recordDir = fx.tempDir('signet-e2e-record-');
    return { SIGNET_AUDIT_CHECKPOINT_DIR: recordDir };
  },
});

/** The checkpoint this browser remembers for the organization, as the audit page stored it. */
function remembered(page: Page, orgId: string): Promise<{ size: number; hash: string } | null> {
  return page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? 'null'), `signet.audit.checkpoint.${orgId}`);
}

describe('the audit page', () => {
  test('warns once the log was rolled back behind the checkpoint this browser was shown', async () => {
    const org = await seedOrg(fx.ui.node);
    const owner = await fx.openSocket({ cookie: await signIn(fx.ui.node, org.users.owner) });
    await auditSealed(fx.ui.node);
    const older = (await sealedSizes(fx.ui.node, org.orgId)).at(-1)!;
    for (const name of ['ana', 'ben', 'cat']) await must(owner, 'member.invite', { email: `${name}@invitees.example.com`, role: 'viewer' });
    await auditSealed(fx.ui.node);

    const { context, page } = await fx.openContext(org.users.admin, '/audit');
    await expect.poll(async () => (await remembered(page, org.orgId))?.size ?? 0, POLL).toBeGreaterThan(older);
    const seen = (await remembered(page, org.orgId))!;
    const warning = page.getByTestId('audit-rollback-warning');
    expect(await warning.count()).toBe(0);

    await rollBackAuditLog(fx.ui.node, org.orgId, older);
    await gotoConsole(page, '/audit');
    await warning.waitFor();
    const text = (await warning.textContent())!.replace(/\s+/g, ' ');
    expect(text).toContain('This audit log was rolled back.');
    expect(text).toContain(`this browser was shown a signed checkpoint of ${seen.size} entries`);
    // What the server shows now: the restored head (or one more, once a node's own alarm entry is sealed).
    const shown = Number(/the server now shows only (\d+)/.exec(text)?.[1]);
    expect(shown).toBeGreaterThanOrEqual(older);
    expect(shown).toBeLessThan(seen.size);
    expect(await warning.getAttribute('role')).toBe('alert');
    // What the browser remembers never goes down.
    expect(await remembered(page, org.orgId)).toEqual({ ...seen });
  });
});
