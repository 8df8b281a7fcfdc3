// The audit log (SPEC §6): readers with audit:read query it by actor, action, target and time with
// cursor pagination; the chain verifies; every entry says when, who, what, to what, and from where.
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditEntry } from '../../../src/lib/shared/entities.js';
import { auditLog, auditSealed, command, restCommand } from '../../helpers/signet.js';
import { useSignet } from '../../helpers/signetFixture.js';

type Entry = AuditEntry;
interface Page {
  entries: Entry[];
  nextBefore: number | null;
}

const fx = useSignet();
const { as, cookies } = fx;
const invited = (name: string) => `${name}@invitees.example.com`;

async function query(input: Record<string, unknown>, socket = as.admin): Promise<Page> {
  const ack = await command<Page>(socket, 'audit.query', input);
  if (!ack.ok) throw new Error(`audit.query failed: ${JSON.stringify(ack.error)}`);
  return ack.result;
}

/** Follows the cursor to the end; returns the pages. */
async function allPages(input: Record<string, unknown>): Promise<Page[]> {
  const pages: Page[] = [];
  let before: number | undefined;
  for (let guard = 0; guard < 1000; guard += 1) {
    const page = await query({ ...input, ...(before === undefined ? {} : { before }) });
    pages.push(page);
    if (page.nextBefore === null) return pages;
    before = page.nextBefore;
  }
  throw new Error('the cursor never ended');
}

const newestFirst = (entries: Entry[]) => [...entries].sort((a, b) => b.seq - a.seq);
const seqs = (entries: Entry[]) => entries.map((entry) => entry.seq);

beforeAll(async () => {
  // Some history: invitations by two people, a change over REST, a denied command.
  for (const [role, name] of [['owner', 'ana'], ['owner', 'ben'], ['admin', 'cat'], ['admin', 'dan']] as const) {
    const ack = await command(as[role], 'member.invite', { email: invited(name), role: 'viewer' });
    if (!ack.ok) throw new Error(JSON.stringify(ack.error));
  }
  const current = await command<any>(as.admin, 'org.get');
  const renamed = await restCommand(fx.node, 'org.update', { name: 'Renamed Org', version: current.ok ? current.result.version : 0 }, { cookie: cookies.admin });
  if (renamed.status !== 200) throw new Error(JSON.stringify(renamed.body));
  await command(as.member, 'member.invite', { email: invited('eve'), role: 'viewer' });
});

describe('audit.query', () => {
  it('the owner and admins may read the log; members and viewers are FORBIDDEN', async () => {
    for (const role of ['owner', 'admin'] as const) {
      const page = await query({}, as[role]);
      expect(page.entries.length).toBeGreaterThan(0);
    }
    for (const role of ['member', 'viewer'] as const) {
      for (const name of ['audit.query', 'audit.verify']) {
        const ack = await command(as[role], name, {});
        expect(ack.ok).toBe(false);
        expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
        expect(!ack.ok && ack.error.message).toContain('audit:read');
      }
    }
  });

  it('filters by action', async () => {
    const page = await query({ action: 'member.invite' });
    const expected = newestFirst((await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.action === 'member.invite'));
    expect(page.entries.length).toBeGreaterThanOrEqual(5);
    expect(seqs(page.entries)).toEqual(seqs(expected));
    expect(page.entries.every((entry) => entry.action === 'member.invite')).toBe(true);
    const accepted = page.entries.filter((entry) => entry.outcome === 'ok').map((entry) => entry.target.name);
    expect(accepted.sort()).toEqual(['ana', 'ben', 'cat', 'dan'].map(invited));
    expect(page.entries.filter((entry) => entry.outcome === 'denied').map((entry) => entry.actor.id)).toEqual([fx.org.users.member.userId]);
  });

  it('filters by actor', async () => {
    const page = await query({ actorId: fx.org.users.admin.userId });
    const expected = newestFirst((await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.actor.id === fx.org.users.admin.userId));
    expect(seqs(page.entries)).toEqual(seqs(expected));
    expect(page.entries.every((entry) => entry.actor.id === fx.org.users.admin.userId)).toBe(true);
    const actions = page.entries.map((entry) => `${entry.action} ${entry.target.name}`);
    expect(actions).toEqual(expect.arrayContaining([`member.invite ${invited('cat')}`, `member.invite ${invited('dan')}`, 'org.update Renamed Org']));
    expect(actions).not.toContain(`member.invite ${invited('ana')}`);
  });

  it('filters by target type and by target id', async () => {
    const byType = await query({ targetType: 'invitation' });
    expect(byType.entries.map((entry) => entry.target.name).sort()).toEqual(['ana', 'ben', 'cat', 'dan'].map(invited));
    expect(byType.entries.every((entry) => entry.target.type === 'invitation')).toBe(true);

    const cat = byType.entries.find((entry) => entry.target.name === invited('cat'))!;
    const byId = await query({ targetType: 'invitation', targetId: cat.target.id });
    expect(byId.entries).toEqual([cat]);
    const byIdAlone = await query({ targetId: fx.org.orgId });
    expect(byIdAlone.entries.length).toBeGreaterThan(0);
    expect(byIdAlone.entries.every((entry) => entry.target.id === fx.org.orgId)).toBe(true);
    expect(byIdAlone.entries.map((entry) => entry.action)).toEqual(expect.arrayContaining(['org.update', 'org.create']));
  });

  it('filters by time, from and to inclusive', async () => {
    const log = await auditLog(fx.node, fx.org.orgId);
    const invites = log.filter((entry) => entry.action === 'member.invite' && entry.outcome === 'ok');
    const from = invites[1]!.time; // ben's
    const to = invites[2]!.time; // cat's
    const page = await query({ from, to });
    const expected = newestFirst(log.filter((entry) => entry.time >= from && entry.time <= to));
    expect(seqs(page.entries)).toEqual(seqs(expected));
    expect(page.entries.map((entry) => entry.target.name)).toEqual(expect.arrayContaining([invited('ben'), invited('cat')]));
    expect(page.entries.length).toBeLessThan(log.length);
    expect(page.entries.every((entry) => entry.time >= from && entry.time <= to)).toBe(true);

    const onlyFrom = await query({ from: to, limit: 200 });
    expect(seqs(onlyFrom.entries)).toEqual(seqs(newestFirst(log.filter((entry) => entry.time >= to))));
    const onlyTo = await query({ to: from, limit: 200 });
    expect(seqs(onlyTo.entries)).toEqual(seqs(newestFirst(log.filter((entry) => entry.time <= from))));
  });

  it('cursor pagination returns every entry exactly once, newest first', async () => {
    const log = await auditLog(fx.node, fx.org.orgId);
    expect(log.length).toBeGreaterThan(7);
    const pages = await allPages({ limit: 3 });
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(log.length / 3));
    for (const page of pages) expect(page.entries.length).toBeLessThanOrEqual(3);
    const seen = pages.flatMap((page) => seqs(page.entries));
    expect(seen).toEqual(seqs(newestFirst(log)));
    expect(new Set(seen).size).toBe(log.length);
    expect(pages.at(-1)!.nextBefore).toBeNull();

    // The cursor works with filters too.
    const invitePages = await allPages({ action: 'member.invite', limit: 2 });
    expect(invitePages.flatMap((page) => seqs(page.entries))).toEqual(
      seqs(newestFirst(log.filter((entry) => entry.action === 'member.invite'))),
    );
  });

  it('a limit above 200 is INVALID_INPUT naming limit', async () => {
    const ack = await command(as.admin, 'audit.query', { limit: 201 });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('INVALID_INPUT');
    expect(!ack.ok && ack.error.issues?.map((issue) => issue.path)).toEqual(['limit']);
    expect((await command(as.admin, 'audit.query', { limit: 200 })).ok).toBe(true);
  });
});

describe('audit.verify', () => {
  it('after sealing, the chain verifies and counts every entry', async () => {
    await auditSealed(fx.node);
    const count = (await auditLog(fx.node, fx.org.orgId)).length;
    const ack = await command<any>(as.owner, 'audit.verify');
    expect(ack.ok).toBe(true);
    expect(ack.ok && ack.result).toMatchObject({ ok: true, entries: count, sealed: count });
  });
});

describe('every entry', () => {
  it('has its time (ISO, UTC), organization, actor, action, target, changes and source', async () => {
    const entries = (await allPages({ limit: 200 })).flatMap((page) => page.entries);
    expect(entries.length).toBe((await auditLog(fx.node, fx.org.orgId)).length);
    const vias = new Set<string>();
    for (const entry of entries) {
      expect(() => AuditEntry.parse(entry)).not.toThrow();
      expect(entry.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(new Date(entry.time).toISOString()).toBe(entry.time);
      expect(entry.orgId).toBe(fx.org.orgId);
      expect(entry.actor).toEqual(expect.objectContaining({ type: expect.any(String), id: expect.any(String), name: expect.any(String) }));
      expect(entry.actor.id.length * entry.actor.name.length).toBeGreaterThan(0);
      expect(entry.action.length).toBeGreaterThan(0);
      expect(entry.target).toEqual({ type: expect.any(String), id: expect.any(String), name: expect.any(String) });
      expect(typeof entry.changes).toBe('object');
      for (const change of Object.values(entry.changes)) expect(Object.keys(change).sort()).toEqual(['after', 'before']);
      vias.add(entry.source.via);
      if (entry.source.via === 'socket' || entry.source.via === 'rest') {
        expect(entry.source.ip).toEqual(expect.any(String));
        expect(entry.source.ip!.length).toBeGreaterThan(0);
        expect(entry.source.userAgent).toEqual(expect.any(String));
      }
    }
    expect([...vias].sort()).toEqual(['cli', 'rest', 'socket']);

    const rename = entries.find((entry) => entry.action === 'org.update')!;
    expect(rename).toMatchObject({
      actor: { type: 'user', id: fx.org.users.admin.userId, name: 'Adam Admin' },
      target: { type: 'organization', id: fx.org.orgId, name: 'Renamed Org' },
      changes: { name: { before: `Org ${fx.org.slug}`, after: 'Renamed Org' } },
      source: { via: 'rest' },
    });
    expect(rename.source.userAgent!.length).toBeGreaterThan(0);
  });
});
