// The requests list and the dashboard's sections (SPEC §8): newest first, a page at a time with the
// `before` cursor, kept live by `change` events, with no event lost to the race with a page in
// flight. Over the console's real socket client, against a scripted Socket.IO server that answers
// request.list and sends events in exactly the order each test needs.
import { describe, expect, it } from 'vitest';
import { RequestFeed, type RequestFilter } from '$lib/requests/requestFeed.svelte';
import type { SigningRequest } from '$lib/shared/entities';
import type { ChangeEvent } from '$lib/shared/events';
import { deferred } from '../../../helpers/deferred.js';
import { until } from '../../../helpers/reactive.svelte.js';
import { scriptedConnection } from '../../../helpers/realtimeClient.js';

const scripted = scriptedConnection();

/** A feed fed by the client's `change` events, as the pages wire it. */
function feed(filter: RequestFilter = {}, options: { pageSize?: number; myUserId?: string } = {}): RequestFeed {
  const created = new RequestFeed(filter, { ...options, client: scripted.client });
  scripted.afterTest(scripted.client.on('change', (event) => created.apply(event)));
  scripted.afterTest(() => created.dispose());
  return created;
}

/** Request `n` of the test, created at minute `n` (a higher n is newer). */
function request(n: number, overrides: Partial<SigningRequest> = {}): SigningRequest {
  const at = new Date(Date.UTC(2026, 0, 1, 12, n)).toISOString();
  return {
    id: `r${n}`,
    orgId: 'org',
    projectId: 'p1',
    projectSlug: 'app',
    policyId: 'pol',
    policySlug: 'release',
    artifactConfigId: 'cfg',
    artifactConfigSlug: 'windows',
    artifact: { fileName: `app-${n}.exe`, size: 1024, sha256: 'ab'.repeat(32) },
    description: '',
    parameters: {},
    origin: null,
    submitterId: 'u-sam',
    submitterName: 'Sam Submitter',
    requiredApprovals: 1,
    approvals: [],
    denials: [],
    status: 'Pending',
    workflowStatus: 'WaitingForApproval',
    isFinalStatus: false,
    failureReason: null,
    resubmittedFromId: null,
    signature: null,
    createdAt: at,
    updatedAt: at,
    expiresAt: null,
    finishedAt: null,
    version: 1,
    ...overrides,
  };
}

let seq = 0;
const changed = (data: SigningRequest, op: 'created' | 'updated' = 'updated'): ChangeEvent => ({ seq: ++seq, entity: 'signingRequest', id: data.id, op, data, version: data.version });
const deleted = (id: string): ChangeEvent => ({ seq: ++seq, entity: 'signingRequest', id, op: 'deleted' });
const page = (requests: SigningRequest[], nextBefore: string | null = null) => ({ requests, nextBefore });
const ids = (f: RequestFeed) => f.items.map((r) => r.id);

describe('paging', () => {
  it('shows the first page newest first; a next page continues from the cursor, never repeats a request shown, and skips pages that bring nothing new', async () => {
    const f = feed({}, { pageSize: 2 });
    scripted.server.answer(
      'request.list',
      () => page([request(5), request(4)], 'c1'),
      // A request that arrived live meanwhile, nothing else: the next page follows at once.
      () => page([request(4)], 'c2'),
      () => page([request(3), request(2)], 'c3'),
      () => page([request(1)]),
    );
    const asked = scripted.server.commands.length;
    await f.load();
    expect(ids(f)).toEqual(['r5', 'r4']);
    expect(f.hasMore).toBe(true);
    await f.loadMore();
    expect(ids(f)).toEqual(['r5', 'r4', 'r3', 'r2']);
    await f.loadMore();
    expect(ids(f)).toEqual(['r5', 'r4', 'r3', 'r2', 'r1']);
    expect(f.hasMore).toBe(false);
    expect(scripted.server.commands.slice(asked).map((c) => c.input.before)).toEqual([undefined, 'c1', 'c2', 'c3']);
    expect(scripted.server.commands.slice(asked).every((c) => c.input.limit === 2)).toBe(true);
  });

  it('a page the server refuses shows its message', async () => {
    const f = feed();
    scripted.server.answer('request.list', () => Promise.reject({ code: 'FORBIDDEN', message: 'You may not read signing requests' }));
    await f.load();
    expect(f.error).toBe('You may not read signing requests');
    expect(f.loaded).toBe(false);
    expect(f.loading).toBe(false);
  });
});

describe('events while a page is in flight', () => {
  it('changes that arrive while the first page loads are applied on top of it', async () => {
    const f = feed();
    scripted.server.answer('request.list', (_input, socket) => {
      // Committed after the page was read, delivered before its answer.
      socket.emit('change', changed(request(2, { workflowStatus: 'Completed', version: 2 })));
      socket.emit('change', changed(request(6), 'created'));
      socket.emit('change', deleted('r1'));
      return page([request(2), request(1)]);
    });
    await f.load();
    expect(ids(f)).toEqual(['r6', 'r2']);
    expect(f.items[1]).toMatchObject({ workflowStatus: 'Completed', version: 2 });
  });

  it('changes that arrive while a next page loads are applied on top of it', async () => {
    const f = feed({}, { pageSize: 2 });
    scripted.server.answer(
      'request.list',
      () => page([request(5), request(4)], 'c1'),
      (_input, socket) => {
        // Older than every request shown: without the page it would have no place yet.
        socket.emit('change', changed(request(3, { workflowStatus: 'Approved', version: 2 })));
        return page([request(3)]);
      },
    );
    await f.load();
    await f.loadMore();
    expect(ids(f)).toEqual(['r5', 'r4', 'r3']);
    expect(f.items[2]).toMatchObject({ workflowStatus: 'Approved', version: 2 });
  });

  it('a load overtaken by a newer one changes nothing', async () => {
    const f = feed();
    const older = deferred<void>();
    scripted.server.answer(
      'request.list',
      async () => {
        await older.promise;
        return page([request(1)]);
      },
      () => page([request(2)]),
    );
    const first = f.load();
    await f.load();
    expect(ids(f)).toEqual(['r2']);
    older.resolve();
    await first;
    expect(ids(f)).toEqual(['r2']);
    expect(f.loading).toBe(false);
  });
});

describe('live changes', () => {
  it('a new request is inserted at its place, an update replaces the one shown, a request that stops matching the filter leaves, a deletion removes it — in the order they come', async () => {
    const f = feed({ workflowStatus: 'WaitingForApproval' });
    scripted.server.answer('request.list', () => page([request(5), request(3), request(1)]));
    await f.load();
    for (const event of [
      changed(request(4), 'created'),
      changed(request(9, { workflowStatus: 'Completed' }), 'created'),
      changed(request(3, { description: 'second build', version: 2 })),
      changed(request(5, { workflowStatus: 'Approved', version: 2 })),
      deleted('r1'),
    ]) {
      scripted.server.io.emit('change', event);
    }
    await until(() => ids(f).join() === 'r4,r3');
    expect(f.items[1]).toMatchObject({ description: 'second build', version: 2 });
  });

  it('a stale event (an older version) does not overwrite the newer request shown', async () => {
    const f = feed();
    scripted.server.answer('request.list', () => page([request(2, { status: 'Approved', version: 3 })]));
    await f.load();
    scripted.server.io.emit('change', changed(request(2, { status: 'Pending', version: 2 })));
    scripted.server.io.emit('change', changed(request(7), 'created'));
    await until(() => ids(f).includes('r7'));
    expect(f.items.find((r) => r.id === 'r2')).toMatchObject({ status: 'Approved', version: 3 });
  });

  it('a request older than the pages loaded so far waits for its page', async () => {
    const f = feed({}, { pageSize: 2 });
    scripted.server.answer('request.list', () => page([request(8), request(6)], 'c1'));
    await f.load();
    scripted.server.io.emit('change', changed(request(2), 'created'));
    scripted.server.io.emit('change', changed(request(7), 'created'));
    await until(() => ids(f).includes('r7'));
    expect(ids(f)).toEqual(['r8', 'r7', 'r6']);
  });

  it('awaiting my approval: a request I decided leaves; one that starts waiting makes the feed ask the server again', async () => {
    const f = feed({ awaitingMyApproval: true }, { myUserId: 'u-me' });
    scripted.server.answer('request.list', () => page([request(1), request(2)]), () => page([request(3), request(2)]));
    await f.load();
    const approval = { userId: 'u-me', name: 'Me', comment: '', at: new Date().toISOString() };
    scripted.server.io.emit('change', changed(request(1, { approvals: [approval], version: 2 })));
    await until(() => ids(f).join() === 'r2');
    // Whether I approve it depends on its policy, which the server knows.
    const askedAgain = scripted.server.nextCommand('request.list');
    scripted.server.io.emit('change', changed(request(3), 'created'));
    expect(await askedAgain).toMatchObject({ awaitingMyApproval: true });
    await until(() => ids(f).join() === 'r3,r2');
  });
});
