// The console names every command that changes something with a request id, and after UNAVAILABLE
// sends it once more with the same id (issue 13): when Redis pauses just as a rename is committed,
// the first answer is "applied entirely or not at all"; the console retries, gets the original
// result, and the rename is applied once. Redis is this file's own, paused (SIGSTOP) through a TCP
// proxy the moment the commit script is sent.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { spawnRedisServer } from '../../server/store/localRedis.js';
import { launchBrowser, openAs, POLL, startUiNode, type UiNode } from '../helpers/browser.js';
import { auditLog, seedOrg, type TestOrg } from '../helpers/signet.js';
import { COMMIT_SCRIPT_SHA, startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';


let dir: string;
let redis: Awaited<ReturnType<typeof spawnRedisServer>>;
let proxy: TcpProxy;
let ui: UiNode;
let browser: Browser;
let org: TestOrg;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'signet-retry-'));
  redis = await spawnRedisServer({ dir });
  proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
  [ui, browser] = await Promise.all([startUiNode({ SIGNET_COMMAND_DEADLINE_MS: '1500' }, proxy.url), launchBrowser()]);
  org = await seedOrg(ui.node);
});

afterAll(async () => {
  redis?.child.kill('SIGCONT');
  await browser?.close();
  await ui?.node.close();
  await proxy?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** How many org.update commands the node answered with `outcome` (signet_commands_total). */
async function answered(outcome: string): Promise<number> {
  const text = await (await fetch(`${ui.base}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith(`signet_commands_total{command="org.update",outcome="${outcome}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('a rename whose answer was lost is retried with the same request id: the original result, applied once', async () => {
  const { context, page } = await openAs(browser, ui, org.users.owner, '/settings');
  try {
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('Organization name').fill('Renamed through a pause');

    // The first attempt is answered at the deadline, its commit on its way to the paused Redis:
    // Redis resumes as soon as the node sends that answer to the browser's socket.
    const [socket] = [...ui.node.io.of('/').sockets.values()];
    const firstAnswer = new Promise<string>((resolve) =>
      socket!.conn.on('packetCreate', (packet: { data?: unknown }) => {
        if (typeof packet.data === 'string' && packet.data.includes('"UNAVAILABLE"')) resolve(packet.data);
      }),
    );
    proxy.when(COMMIT_SCRIPT_SHA, () => redis.child.kill('SIGSTOP'));
    await page.getByRole('button', { name: 'Save name' }).click();
    expect(await firstAnswer).toContain('applied entirely or not at all');
    redis.child.kill('SIGCONT');

    // The console's retry gets the original result: the form closes with no error shown.
    await page.getByRole('status').filter({ hasText: 'Organization renamed.' }).waitFor();
    await expect.poll(() => page.getByTestId('org-display-name').innerText(), POLL).toBe('Renamed through a pause');
    expect(await answered('UNAVAILABLE')).toBe(1);
    expect(await answered('ok')).toBe(1);
    const renames = (await auditLog(ui.node, org.orgId)).filter((entry) => entry.action === 'org.update');
    expect(renames).toHaveLength(1);
  } finally {
    await context.close();
  }
});
