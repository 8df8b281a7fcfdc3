// The audit page's stream (SPEC §6): the log newest first under the chosen filters, older pages on
// demand, live entries on top (held and counted while paused), none lost to the race with the first
// page and none shown twice. Over the console's real socket client, against a scripted Socket.IO
// server that answers audit.query and sends `audit` events in the order each test needs.
import { describe, expect, it } from 'vitest';
import { AuditStream } from '$lib/audit/auditStream.svelte';
import { NO_FILTER } from '$lib/audit/filter';
import type { AuditEntry } from '$lib/shared/entities';
import { deferred } from '../../../helpers/deferred.js';
import { until } from '../../../helpers/reactive.svelte.js';
import { scriptedConnection } from '../../../helpers/realtimeClient.js';

const scripted = scriptedConnection();

/** A stream fed by the client's `audit` events, as the audit page wires it. */
function stream(): AuditStream {
  const created = new AuditStream(scripted.client);
  scripted.afterTest(scripted.client.on('audit', ({ entry }) => created.receive(entry)));
  return created;
}

/** Audit entry number `n` of the chain; `action` decides what a filter matches. */
function entry(n: number, action = 'project.update'): AuditEntry {
  return {
    seq: n,
    id: `a${n}`,
    time: new Date(Date.UTC(2026, 0, 1, 12, 0, n)).toISOString(),
    orgId: 'org',
    actor: { type: 'user', id: 'u-ada', name: 'Ada Admin' },
    action,
    target: { type: 'project', id: 'p1', name: 'app' },
    changes: {},
    outcome: 'ok',
    source: { via: 'socket' },
  };
}

let eventSeq = 0;
const audit = (e: AuditEntry) => ({ seq: ++eventSeq, entry: e });
const page = (entries: AuditEntry[], nextBefore: number | null = null) => ({ entries, nextBefore, checkpoint: null });
const seqs = (s: AuditStream) => s.entries.map((e) => e.seq);

describe('the audit stream', () => {
  it('entries that arrive while the first page loads are shown on top of it, each once', async () => {
    const s = stream();
    scripted.server.answer('audit.query', (_input, socket) => {
      // 11 made it into the page, 12 did not.
      socket.emit('audit', audit(entry(11)));
      socket.emit('audit', audit(entry(12)));
      return page([entry(11), entry(10)]);
    });
    await s.load();
    expect(seqs(s)).toEqual([12, 11, 10]);
    expect(s.loading).toBe(false);
    expect(s.checkpoint).toBeNull();
  });

  it('a load for another filter overtakes the one in flight: only its page is shown, with the live entries it matches', async () => {
    const s = stream();
    const older = deferred<void>();
    scripted.server.answer(
      'audit.query',
      async () => {
        await older.promise;
        return page([entry(20, 'member.invite')]);
      },
      () => page([entry(21, 'project.create')]),
    );
    const first = s.load({ ...NO_FILTER, action: 'member' });
    await s.load({ ...NO_FILTER, action: 'project' });
    older.resolve();
    await first;
    expect(seqs(s)).toEqual([21]);
    expect(s.filter.action).toBe('project');

    scripted.server.io.emit('audit', audit(entry(22, 'member.remove')));
    scripted.server.io.emit('audit', audit(entry(23, 'project.delete')));
    await until(() => seqs(s).includes(23));
    expect(seqs(s)).toEqual([23, 21]);
  });

  it('paused, matching entries are held and counted; resuming shows them in order', async () => {
    const s = stream();
    scripted.server.answer('audit.query', () => page([entry(30)]));
    await s.load();
    s.pause();
    scripted.server.io.emit('audit', audit(entry(31)));
    scripted.server.io.emit('audit', audit(entry(32)));
    await until(() => s.held.length === 2);
    expect(seqs(s)).toEqual([30]);
    s.resume();
    expect(seqs(s)).toEqual([32, 31, 30]);
    expect(s.held).toEqual([]);
  });

  it('older pages are appended once each; one overtaken by a reload is dropped', async () => {
    const s = stream();
    const slowOlder = deferred<void>();
    scripted.server.answer(
      'audit.query',
      () => page([entry(45), entry(44)], 44),
      // 44 again (the cursor's edge) and older ones.
      () => page([entry(44), entry(43), entry(42)], 42),
      async () => {
        await slowOlder.promise;
        return page([entry(41)]);
      },
      () => page([entry(46), entry(45)], 45),
    );
    await s.load();
    await s.loadMore();
    expect(scripted.server.commands.at(-1)!.input.before).toBe(44);
    expect(seqs(s)).toEqual([45, 44, 43, 42]);
    const overtaken = s.loadMore();
    await s.load();
    slowOlder.resolve();
    await overtaken;
    expect(seqs(s)).toEqual([46, 45]);
    expect(s.nextBefore).toBe(45);
  });
});
