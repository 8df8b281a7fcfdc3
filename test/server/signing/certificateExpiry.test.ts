// Certificates about to expire (issue 11): certificate admins (certificate:write: owner and admin)
// hear about it 30, 7 and 1 days before and on expiry, through their notification inbox — each
// notice once, however many nodes sweep and however often. The sweeps here run with a clock of the
// test's own (certificates generated with short validity), so nothing waits for time to pass.
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { sweepCertificateExpiry } from '../../../server/signing/certificateExpiry.js';
import type { Certificate, Notification } from '../../../src/lib/shared/entities.js';
import { auditLog, connect, nextEvent, seedOrg, signIn, startNode, testConfig, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { must } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

const DAY = 24 * 60 * 60 * 1000;
const fx = useSignet();
const { as } = fx;
let nodeA: SignetNode;
let nodeB: SignetNode;
let org: TestOrg;
const certificates = {} as Record<'twenty' | 'five' | 'forty' | 'disabled', Certificate>;

async function inbox(socket: ClientSocket): Promise<Notification[]> {
  return (await must<{ items: Notification[] }>(socket, 'notification.list', { limit: 200 })).items.filter((item) => item.kind.startsWith('certificate.'));
}

const titles = (items: Notification[]) => items.map((item) => item.title).sort();

/** Now, as seen `days` from the start of the test. */
const later = (days: number) => new Date(Date.now() + days * DAY);

beforeAll(async () => {
  // Two nodes of one installation, both sweeping.
  ({ node: nodeA, org } = fx);
  nodeB = await fx.startNode({ ...nodeA.signet.config, nodeId: 'node-b' });
  const generate = (slug: string, validDays: number, custody: 'software' | 'pkcs11' = 'software') =>
    must<Certificate>(as.admin, 'certificate.generate', { slug, name: `Expires in ${validDays} days`, type: 'test', custody, commonName: `Expiry Test ${slug}`, validDays });
  certificates.twenty = await generate('twenty', 20, 'pkcs11');
  certificates.five = await generate('five', 5);
  certificates.forty = await generate('forty', 40);
  const disabled = await generate('disabled', 3);
  certificates.disabled = await must<Certificate>(as.admin, 'certificate.update', { certificateId: disabled.id, version: disabled.version, disabled: true });
});

describe('expiry notices', () => {
  it('certificate admins hear of what is due now — the 30-day notice, or only the most urgent one already due — live and in their inbox', async () => {
    const live = nextEvent(as.owner, 'notification', (event) => event.notification.kind === 'certificate.expiring');
    expect(await sweepCertificateExpiry(nodeA.signet, later(0))).toBe(2);

    expect((await live).notification.link).toBe('/certificates');
    for (const role of ['owner', 'admin'] as const) {
      expect(titles(await inbox(as[role]))).toEqual([
        'Certificate expires in 20 days: Expires in 20 days',
        'Certificate expires in 5 days: Expires in 5 days',
      ]);
    }
    // Without certificate:write, nobody is told.
    expect(await inbox(as.member)).toEqual([]);
    expect(await inbox(as.viewer)).toEqual([]);
    const entries = (await auditLog(nodeA, org.orgId)).filter((entry) => entry.action === 'certificate.expiring');
    expect(entries.map((entry) => [entry.target.id, entry.changes.expiryNotice?.after, entry.actor.type])).toEqual(
      expect.arrayContaining([
        [certificates.twenty.id, 30, 'system'],
        [certificates.five.id, 7, 'system'],
      ]),
    );
    expect(entries).toHaveLength(2);
  });

  it('is sent once: sweeping again, from two nodes at the same moment, sends nothing more', async () => {
    const [a, b] = await Promise.all([sweepCertificateExpiry(nodeA.signet, later(0.5)), sweepCertificateExpiry(nodeB.signet, later(0.5))]);
    expect(a + b).toBe(0);
    expect(await inbox(as.owner)).toHaveLength(2);
  });

  it('each later threshold once more, from whichever node sweeps first; an expired certificate is announced as expired', async () => {
    // Day 14: 6 days left for the 20-day one (its 7-day notice), the 5-day one has expired, 26 days for the 40-day one.
    const [a, b] = await Promise.all([sweepCertificateExpiry(nodeA.signet, later(14)), sweepCertificateExpiry(nodeB.signet, later(14))]);
    expect(a + b).toBe(3);
    expect(titles((await inbox(as.admin)).slice(0, 3))).toEqual([
      'Certificate expired: Expires in 5 days',
      'Certificate expires in 26 days: Expires in 40 days',
      'Certificate expires in 6 days: Expires in 20 days',
    ]);
    // Day 19.5: a day left for the 20-day one.
    expect(await sweepCertificateExpiry(nodeB.signet, later(19.5))).toBe(1);
    expect((await inbox(as.owner))[0]!.title).toBe('Certificate expires in 1 day: Expires in 20 days');
    // Day 45: both remaining ones have expired; the 40-day one skips its 7- and 1-day notices.
    expect(await sweepCertificateExpiry(nodeA.signet, later(45))).toBe(2);
    expect(await sweepCertificateExpiry(nodeB.signet, later(60))).toBe(0);

    const notices = await inbox(as.owner);
    expect(notices).toHaveLength(8);
    const per = (certificate: Certificate) => notices.filter((item) => item.body.includes(`(${certificate.slug})`)).length;
    expect([per(certificates.twenty), per(certificates.five), per(certificates.forty)]).toEqual([4, 2, 2]);
    // A disabled certificate signs nothing: no notices about it.
    expect(per(certificates.disabled)).toBe(0);
    expect(await inbox(as.member)).toEqual([]);
  });
});

describe('the periodic sweep', () => {
  it('a node with the sweep on sends what is due shortly after it starts', async () => {
    const config = testConfig({ SIGNET_CERT_EXPIRY_SWEEP_MINUTES: '60' });
    const seeding = await startNode({ ...config, SIGNET_CERT_EXPIRY_SWEEP_MINUTES: 0 });
    const other = await seedOrg(seeding);
    const admin = await connect(seeding, { cookie: await signIn(seeding, other.users.admin) });
    await must(admin, 'certificate.generate', { slug: 'soon', name: 'Soon', type: 'test', commonName: 'Soon Test', validDays: 2 });
    const heard = nextEvent(admin, 'notification', (event) => event.notification.kind === 'certificate.expiring', 20_000);
    const sweeping = await startNode(config);
    try {
      expect((await heard).notification.title).toBe('Certificate expires in 2 days: Soon');
    } finally {
      admin.close();
      await Promise.all([sweeping.close(), seeding.close()]);
    }
  });
});
