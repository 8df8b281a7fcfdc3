// A form's round trip (Submission) and a list's row actions (RowActions): busy while the action
// runs, the server's refusal afterwards, cleared when the next one starts.
import { describe, expect, it } from 'vitest';
import { RowActions, Submission } from '$lib/components/submission.svelte';
import { ProtocolError } from '$lib/protocol';
import { deferred } from '../../../helpers/deferred.js';

const refusal = (message: string) => new ProtocolError({ code: 'INVALID_INPUT', message, issues: [{ path: 'name', message: 'is taken' }] });

describe('a form submission', () => {
  it('is busy while its action runs, and not after it succeeded', async () => {
    const submission = new Submission();
    const action = deferred<void>();
    const done = submission.run(() => action.promise);
    expect(submission.busy).toBe(true);
    expect(submission.running).toBe('submit');
    action.resolve();
    expect(await done).toBe(true);
    expect(submission.busy).toBe(false);
    expect(submission.error).toBeNull();
  });

  it('keeps the refusal with its field issues, and clears it when sent again', async () => {
    const submission = new Submission();
    expect(await submission.run(() => Promise.reject(refusal('Name is taken')))).toBe(false);
    expect(submission.busy).toBe(false);
    expect(submission.error?.message).toBe('Name is taken');
    expect(submission.error?.issueFor('name')).toBe('is taken');

    const again = deferred<void>();
    const done = submission.run(() => again.promise);
    expect(submission.error).toBeNull();
    again.resolve();
    expect(await done).toBe(true);
  });

  it('says which of its buttons runs', async () => {
    const submission = new Submission<'approve' | 'deny'>();
    const action = deferred<void>();
    const done = submission.run(() => action.promise, 'deny');
    expect(submission.running).toBe('deny');
    action.resolve();
    await done;
    expect(submission.running).toBeNull();
  });

  it('as a submit handler, keeps the browser from loading a page', async () => {
    const submission = new Submission();
    const event = new Event('submit', { cancelable: true }) as SubmitEvent;
    expect(await submission.onsubmit(async () => {})(event)).toBe(true);
    expect(event.defaultPrevented).toBe(true);
  });

  it('turns a failure that is not the server speaking into an error it can show', async () => {
    const submission = new Submission();
    await submission.run(() => Promise.reject(new TypeError('Failed to fetch')));
    expect(submission.error).toBeInstanceOf(ProtocolError);
    expect(submission.error?.code).toBe('UNAVAILABLE');
  });
});

describe('row actions', () => {
  it('name the row a refusal was about, and show it on that row only', async () => {
    const rows = new RowActions();
    expect(await rows.run('ci-token', () => Promise.reject(refusal('Already revoked')))).toBe(false);
    expect(rows.failure).toBe('ci-token: Already revoked');
    expect(rows.errorFor('ci-token')?.message).toBe('Already revoked');
    expect(rows.errorFor('other')).toBeNull();
  });

  it('say which row runs, and forget the last refusal when another starts', async () => {
    const rows = new RowActions();
    await rows.run('a', () => Promise.reject(refusal('No')));
    const action = deferred<void>();
    const done = rows.run('b', () => action.promise);
    expect(rows.running).toBe('b');
    expect(rows.failure).toBeNull();
    expect(rows.errorFor('a')).toBeNull();
    action.resolve();
    expect(await done).toBe(true);
    expect(rows.running).toBeNull();
  });
});
