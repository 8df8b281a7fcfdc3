// Live events race the pages a list loads: those that arrive while a page is in flight are held and
// applied on top of it once it is shown, in the order they came; a load overtaken by a newer one (or
// cancelled) shows nothing. The one implementation behind LiveList, RequestFeed and AuditStream.
import { describe, expect, it } from 'vitest';
import { HoldWhileLoading } from '$lib/realtime/holdWhileLoading.svelte';
import { deferred } from '../../../helpers/deferred.js';

/** A list of strings kept by events, and the log of what happened to it. */
function list() {
  const log: string[] = [];
  const hold = new HoldWhileLoading<string>((event) => log.push(`apply ${event}`));
  const receive = (event: string) => {
    if (!hold.offer(event)) log.push(`apply ${event} now`);
  };
  return { hold, log, receive };
}

describe('holding events while a load is in flight', () => {
  it('events that arrive during a load are applied after its result is shown, in the order they came', async () => {
    const { hold, log, receive } = list();
    const page = deferred<string>();
    const loading = hold.run(() => page.promise, (result) => log.push(`show ${result}`));
    expect(hold.loading).toBe(true);
    receive('a');
    receive('b');
    expect(log).toEqual([]);
    page.resolve('page 1');
    expect(await loading).toBe(true);
    expect(log).toEqual(['show page 1', 'apply a', 'apply b']);
    expect(hold.loading).toBe(false);
    receive('c');
    expect(log.at(-1)).toBe('apply c now');
  });

  it('a load overtaken by a newer one shows nothing; the newer one applies every event held since the older began', async () => {
    const { hold, log, receive } = list();
    const older = deferred<string>();
    const newer = deferred<string>();
    const first = hold.run(() => older.promise, (result) => log.push(`show ${result}`));
    receive('a');
    const second = hold.run(() => newer.promise, (result) => log.push(`show ${result}`));
    receive('b');
    newer.resolve('newer page');
    expect(await second).toBe(true);
    older.resolve('older page');
    expect(await first).toBe(false);
    // 'a' came before the newer load was asked for: the newer page already reflects it.
    expect(log).toEqual(['show newer page', 'apply b']);
    expect(hold.loading).toBe(false);
  });

  it('a next page continues the load shown: events are held during it, and a newer load overtakes it', async () => {
    const { hold, log, receive } = list();
    await hold.run(async () => 'page 1', (result) => log.push(`show ${result}`));
    const next = deferred<string>();
    const more = hold.continue().run(() => next.promise, (result) => log.push(`show ${result}`));
    receive('a');
    next.resolve('page 2');
    expect(await more).toBe(true);
    expect(log).toEqual(['show page 1', 'show page 2', 'apply a']);

    const stale = deferred<string>();
    const overtaken = hold.continue();
    const staleRun = overtaken.run(() => stale.promise, (result) => log.push(`show ${result}`));
    const reload = hold.run(async () => 'reloaded', (result) => log.push(`show ${result}`));
    expect(overtaken.current).toBe(false);
    expect(await reload).toBe(true);
    stale.resolve('page 2 again');
    expect(await staleRun).toBe(false);
    expect(log.slice(3)).toEqual(['show reloaded']);
  });

  it('watch() tells a fetch that holds nothing whether a load began since', async () => {
    const { hold } = list();
    const watched = hold.watch();
    expect(watched.current).toBe(true);
    expect(hold.loading).toBe(false);
    await hold.run(async () => 'reloaded', () => {});
    expect(watched.current).toBe(false);
  });

  it('a failed load stops holding: later events are applied at once, and the failure reaches the caller', async () => {
    const { hold, log, receive } = list();
    const page = deferred<string>();
    const loading = hold.run(() => page.promise, (result) => log.push(`show ${result}`));
    receive('a');
    page.reject(new Error('the server did not answer'));
    await expect(loading).rejects.toThrow('the server did not answer');
    expect(hold.loading).toBe(false);
    receive('b');
    expect(log).toEqual(['apply b now']);
  });

  it('cancel() ends the load in flight: it shows nothing, and what it held is dropped', async () => {
    const { hold, log, receive } = list();
    const page = deferred<string>();
    const loading = hold.run(() => page.promise, (result) => log.push(`show ${result}`));
    receive('a');
    hold.cancel();
    expect(hold.loading).toBe(false);
    page.resolve('page 1');
    expect(await loading).toBe(false);
    expect(log).toEqual([]);
  });
});
