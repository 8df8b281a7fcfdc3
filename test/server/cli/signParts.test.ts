// The parts of `signet sign` that need no server: the Idempotency-Key a CI job gets, --timeout
// durations, and what a terminal sees of an upload.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ciIdempotencyKey } from '../../../server/cli/sign/idempotency.js';
import { parseDuration } from '../../../server/cli/sign/duration.js';
import { createReporter } from '../../../server/cli/sign/reporter.js';
import { describeStatus, escalationStep, viewOf } from '../../../server/cli/sign/follow.js';

const signed = { project: 'app', policy: 'release', fileSha256: 'a'.repeat(64) };

describe('the Idempotency-Key of a CI job', () => {
  it('GitHub Actions: the same for every attempt of a run\'s job, another for another job, run, policy or file', () => {
    const run = { GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '77', GITHUB_JOB: 'build' };
    const first = ciIdempotencyKey({ ...run, GITHUB_RUN_ATTEMPT: '1' }, signed);
    expect(first).toMatch(/^signet-github-[0-9a-f]{40}$/);
    expect(ciIdempotencyKey({ ...run, GITHUB_RUN_ATTEMPT: '3' }, signed)).toBe(first);
    expect(ciIdempotencyKey({ ...run, GITHUB_JOB: 'package' }, signed)).not.toBe(first);
    expect(ciIdempotencyKey({ ...run, GITHUB_RUN_ID: '78' }, signed)).not.toBe(first);
    expect(ciIdempotencyKey(run, { ...signed, policy: 'test' })).not.toBe(first);
    expect(ciIdempotencyKey(run, { ...signed, fileSha256: 'b'.repeat(64) })).not.toBe(first);
  });

  it('GitLab CI: the same for a retried job (a new CI_JOB_ID) of one pipeline; Jenkins: by BUILD_TAG; elsewhere none', () => {
    const pipeline = { GITLAB_CI: 'true', CI_PROJECT_ID: '42', CI_PIPELINE_ID: '900', CI_JOB_NAME: 'sign' };
    const first = ciIdempotencyKey({ ...pipeline, CI_JOB_ID: '1' }, signed);
    expect(first).toMatch(/^signet-gitlab-/);
    expect(ciIdempotencyKey({ ...pipeline, CI_JOB_ID: '2' }, signed)).toBe(first);
    expect(ciIdempotencyKey({ ...pipeline, CI_PIPELINE_ID: '901' }, signed)).not.toBe(first);
    const jenkins = ciIdempotencyKey({ JENKINS_URL: 'https://ci.example.com/', BUILD_TAG: 'jenkins-app-12' }, signed);
    expect(jenkins).toMatch(/^signet-jenkins-/);
    expect(ciIdempotencyKey({ JENKINS_URL: 'https://ci.example.com/', BUILD_TAG: 'jenkins-app-13' }, signed)).not.toBe(jenkins);
    expect(ciIdempotencyKey({ CI: 'true' }, signed)).toBeNull();
  });
});

describe('--timeout durations', () => {
  it('reads seconds, minutes, hours and combinations, and refuses anything else', () => {
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    for (const bad of ['', 'soon', '5x', '1h 30m', '-5s', '0s']) expect(() => parseDuration(bad), bad).toThrow(/duration/);
  });
});

describe('upload progress', () => {
  function capture(isTTY: boolean) {
    const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
    stream.isTTY = isTTY;
    let text = '';
    stream.on('data', (chunk) => (text += chunk));
    return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
  }

  it('draws a bar on a terminal, redrawn in place, and clears it for the next step', () => {
    const out = capture(true);
    const reporter = createReporter(out.stream);
    const progress = reporter.uploadProgress('app.exe', 4 * 1024 * 1024);
    progress.done();
    reporter.step('submitted');
    expect(out.text()).toContain('\r\x1b[2Kuploading app.exe [........................] 0% 0 B of 4.0 MiB');
    expect(out.text()).toContain('\r\x1b[2Kuploaded app.exe (4.0 MiB)\nsubmitted\n');
  });

  it('writes plain lines for a log: one per quarter for large files, none for small ones', () => {
    const out = capture(false);
    const reporter = createReporter(out.stream);
    const large = reporter.uploadProgress('big.iso', 8 * 1024 * 1024);
    for (let sent = 0; sent <= 8 * 1024 * 1024; sent += 1024 * 1024) large.update(sent);
    large.done();
    const small = reporter.uploadProgress('tiny.txt', 10);
    small.update(10);
    small.done();
    expect(out.text()).toBe(
      ['uploading big.iso: 0% of 8.0 MiB', 'uploading big.iso: 25% of 8.0 MiB', 'uploading big.iso: 50% of 8.0 MiB', 'uploading big.iso: 75% of 8.0 MiB', 'uploaded big.iso (8.0 MiB)', 'uploaded tiny.txt (10 B)', ''].join('\n'),
    );
    expect(out.text()).not.toContain('\r');
  });
});

describe('the steps a pipeline prints while it waits', () => {
  const base = { id: 'sr_1', workflowStatus: 'WaitingForApproval', isFinalStatus: false, requiredApprovals: 2, approvals: [], denials: [], failureReason: null, signature: null, links: {} };

  it('says what approved a request when no approver did one by one: a pre-approved window, or break-glass', () => {
    const queued = { ...base, workflowStatus: 'QueuedForProcessing' };
    expect(describeStatus(viewOf({ ...queued, preApproval: { grantId: 'gr_1', cosigners: [{ name: 'Alice' }, { name: 'Bob' }] } }))).toBe(
      'pre-approved by grant gr_1 (Alice, Bob); queued for signing',
    );
    expect(describeStatus(viewOf({ ...queued, breakGlass: { name: 'Adam', reason: 'outage' } }))).toBe('approved by Adam alone (break-glass: outage); queued for signing');
    expect(describeStatus(viewOf(queued))).toBe('queued for signing');
  });

  it('tells once when a waiting request is escalated to its backup approvers', () => {
    const waiting = viewOf({ ...base, escalation: { afterMinutes: 30, escalatedAt: null, backups: [] } });
    const escalated = viewOf({ ...base, escalation: { afterMinutes: 30, escalatedAt: '2026-06-01T10:30:00Z', backups: [{ name: 'Dave' }] } });
    expect(escalationStep(waiting, escalated)).toBe('waited 30 min: escalated to Dave');
    expect(escalationStep(escalated, escalated)).toBeNull();
    expect(escalationStep(waiting, waiting)).toBeNull();
  });
});
