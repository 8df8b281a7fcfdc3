// A list a page loads once and `change` events keep current (projects, members, API keys, …): kept
// in its order, inserts, updates and deletions applied as they come, never stepping back to an older
// version, and no event lost to the race with the load.
import { describe, expect, it } from 'vitest';
import { LiveList } from '$lib/realtime/liveList.svelte';
import type { ChangeEvent } from '$lib/shared/events';
import { deferred } from '../../../helpers/deferred.js';

interface Project {
  id: string;
  name: string;
  version: number;
}

const project = (id: string, name: string, version = 1): Project => ({ id, name, version });
let seq = 0;
// A project reduced to what LiveList reads: the event carries it as a project's data.
const changed = (data: Project, op: 'created' | 'updated' = 'updated'): ChangeEvent =>
  ({ seq: ++seq, entity: 'project', id: data.id, op, data, version: data.version }) as unknown as ChangeEvent;
const deleted = (id: string): ChangeEvent => ({ seq: ++seq, entity: 'project', id, op: 'deleted' });

const byName = () => new LiveList<Project>((p) => p.id, (a, b) => a.name.localeCompare(b.name));
const names = (list: LiveList<Project>) => list.items.map((p) => p.name);

describe('a live list', () => {
  it('shows what the load brought in its order, then applies inserts, updates and deletions in the order they come', async () => {
    const list = byName();
    await list.load(async () => [project('b', 'Bravo'), project('a', 'Alpha')]);
    expect(list.loaded).toBe(true);
    expect(names(list)).toEqual(['Alpha', 'Bravo']);

    list.apply(changed(project('c', 'Charlie'), 'created'));
    list.apply(changed(project('a', 'Zulu', 2)));
    list.apply(deleted('b'));
    list.apply(changed(project('d', 'Delta'), 'created'));
    expect(names(list)).toEqual(['Charlie', 'Delta', 'Zulu']);
    // An update keeps the item's place; a deletion of what it does not show changes nothing.
    list.apply(deleted('unknown'));
    expect(list.items.map((p) => p.id)).toEqual(['c', 'd', 'a']);
  });

  it('a stale event (an older version) does not overwrite the newer item shown', async () => {
    const list = byName();
    await list.load(async () => [project('a', 'Alpha v3', 3)]);
    list.apply(changed(project('a', 'Alpha v2', 2)));
    expect(list.items).toEqual([project('a', 'Alpha v3', 3)]);
    list.apply(changed(project('a', 'Alpha v4', 4)));
    expect(list.items).toEqual([project('a', 'Alpha v4', 4)]);
  });

  it('ignores events before its first load (the load brings their result)', async () => {
    const list = byName();
    list.apply(changed(project('a', 'Alpha'), 'created'));
    expect(list.items).toEqual([]);
    expect(list.loaded).toBe(false);
  });

  it('events that arrive while the load is in flight are applied on top of what it brings', async () => {
    const list = byName();
    const page = deferred<Project[]>();
    const loading = list.load(() => page.promise);
    list.apply(changed(project('b', 'Bravo v2', 2)));
    list.apply(changed(project('c', 'Charlie'), 'created'));
    list.apply(deleted('a'));
    // The page was read before those changes.
    page.resolve([project('a', 'Alpha'), project('b', 'Bravo')]);
    await loading;
    expect(list.items).toEqual([project('b', 'Bravo v2', 2), project('c', 'Charlie')]);
  });

  it('a reload overtaken by a newer one changes nothing, and reset() drops a load in flight', async () => {
    const list = byName();
    const older = deferred<Project[]>();
    const first = list.load(() => older.promise);
    await list.load(async () => [project('n', 'Newer')]);
    older.resolve([project('o', 'Older')]);
    await first;
    expect(names(list)).toEqual(['Newer']);

    const late = deferred<Project[]>();
    const loading = list.load(() => late.promise);
    list.reset();
    late.resolve([project('l', 'Late')]);
    await loading;
    expect(list.items).toEqual([]);
    expect(list.loaded).toBe(false);
  });
});
