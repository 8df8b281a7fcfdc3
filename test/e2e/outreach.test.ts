// Reaching people where they are, in the console: a project's chat channels (added with their secret
// URL, shown masked from then on, live for everyone else), webhooks choosing the status changes they
// hear, and each person's email switch on the settings page.
import { beforeAll, describe, expect, test } from 'vitest';
import { POLL } from '../helpers/browser.js';
import { createProject, must, people } from '../helpers/signing.js';
import { startHttpReceiver, type HttpReceiver } from '../helpers/receivers.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.js';
import type { Project, Webhook } from '../../src/lib/shared/entities.js';
import { useConsole } from '../helpers/consoleFixture.js';

let receiver: HttpReceiver;
let smtp: TestSmtpServer;
const fx = useConsole({
  env: async () => {
    [receiver, smtp] = await Promise.all([startHttpReceiver(), startSmtpServer()]);
    fx.onClose(() => smtp.close());
    fx.onClose(() => receiver.close());
    return { SIGNET_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, SIGNET_MAIL_FROM: 'signet@signet.test' };
  },
});
const { team, open } = fx;

describe('the project page', () => {
  let project: Project;
  beforeAll(async () => {
    project = await createProject(team.owner.socket, 'chatty');
  });

  test('a member adds a Slack channel; from then on everyone sees its URL only masked, live, and a viewer cannot add one', async () => {
    const secretPath = '/services/T0CHAT/B0CHAT/VerySecretChatToken42';
    const [member, viewer] = await Promise.all([open(fx.org.users.member, `/projects/${project.id}`), open(fx.org.users.viewer, `/projects/${project.id}`)]);
    const form = member.getByRole('form', { name: 'New chat channel' });
    await form.getByLabel('Service').selectOption('slack');
    await form.getByLabel('Channel name').fill('#releases');
    await form.getByLabel('Incoming webhook URL').fill(`${receiver.url}${secretPath}`);
    await form.getByRole('button', { name: 'Add chat channel' }).click();

    for (const page of [member, viewer]) {
      const row = page.getByRole('list', { name: 'Chat channels' }).getByRole('listitem').filter({ hasText: '#releases' });
      await row.waitFor();
      await expect.poll(() => row.textContent(), POLL).toContain(`${receiver.url}/…en42`);
      expect(await row.textContent()).toContain('Slack');
      expect(await page.content()).not.toContain('VerySecretChatToken42');
    }
    // The form is emptied: the secret is not left on screen either.
    expect(await form.getByLabel('Incoming webhook URL').inputValue()).toBe('');
    expect(await viewer.getByRole('form', { name: 'New chat channel' }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: /Delete/ }).count()).toBe(0);

    // Deleting it, after confirming, removes it for the viewer too.
    await member.getByRole('listitem').filter({ hasText: '#releases' }).getByRole('button', { name: 'Delete' }).click();
    await member.getByRole('button', { name: 'Yes, delete' }).click();
    await viewer.getByText('No chat channel.').waitFor();
  });

  test('a URL the server may not call is refused next to the field, and nothing is added', async () => {
    const page = await open(fx.org.users.admin, `/projects/${project.id}`);
    const form = page.getByRole('form', { name: 'New chat channel' });
    await form.getByLabel('Channel name').fill('#metadata');
    await form.getByLabel('Incoming webhook URL').fill('http://169.254.169.254/latest');
    await form.getByRole('button', { name: 'Add chat channel' }).click();
    await expect.poll(() => form.getByLabel('Incoming webhook URL').getAttribute('aria-invalid'), POLL).toBe('true');
    await form.getByText(/not allowed/).first().waitFor();
    expect(await must(team.admin.socket, 'chatChannel.list', { projectId: project.id })).toEqual([]);
  });

  test('a webhook is added for the statuses ticked, and its events are changed later', async () => {
    const page = await open(fx.org.users.admin, `/projects/${project.id}`);
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('Webhook URL').fill(`${receiver.url}/ci-hook`);
    // The final statuses are ticked to begin with; add "Waiting for approval", drop "Canceled".
    expect(await form.getByRole('checkbox', { name: /Completed/ }).isChecked()).toBe(true);
    await form.getByRole('checkbox', { name: /Waiting for approval/ }).check();
    await form.getByRole('checkbox', { name: /Canceled/ }).uncheck();
    await form.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByRole('button', { name: 'Done' }).or(page.getByText('Webhook added.')).first().waitFor();

    const [webhook] = await must<Webhook[]>(team.admin.socket, 'webhook.list', { projectId: project.id });
    expect(webhook!.events).toEqual(['request.waitingForApproval', 'request.completed', 'request.processingFailed', 'request.denied']);
    const shown = page.getByTestId('webhook-events');
    await expect.poll(() => shown.textContent(), POLL).toBe('On: Waiting for approval, Completed, Failed, Denied');

    await page.getByRole('button', { name: `Events of ${receiver.url}/ci-hook` }).click();
    const edit = page.getByRole('form', { name: `Events of webhook ${receiver.url}/ci-hook` });
    await edit.getByRole('checkbox', { name: /^Processing/ }).check();
    await edit.getByRole('button', { name: 'Save events' }).click();
    await expect.poll(() => shown.textContent(), POLL).toBe('On: Waiting for approval, Processing, Completed, Failed, Denied');
    const [updated] = await must<Webhook[]>(team.admin.socket, 'webhook.list', { projectId: project.id });
    expect(updated).toMatchObject({ version: 2, events: ['request.waitingForApproval', 'request.processing', 'request.completed', 'request.processingFailed', 'request.denied'] });
  });
});

describe('the settings page', () => {
  test('each person turns their own email off and on; another tab follows', async () => {
    const [page, other] = await Promise.all([open(fx.org.users.member, '/settings'), open(fx.org.users.member, '/settings')]);
    const toggle = page.getByTestId('email-switch');
    await expect.poll(() => toggle.isChecked(), POLL).toBe(true);
    expect(await page.getByText(`Also send my notifications by email to ${fx.org.users.member.email}`).count()).toBe(1);
    await toggle.uncheck();
    await page.getByText('Saved: no more email').waitFor();
    expect(await must(team.member.socket, 'notification.settings', {})).toMatchObject({ email: false, emailConfigured: true });
    await expect.poll(() => other.getByTestId('email-switch').isChecked(), POLL).toBe(false);
    expect(await must(team.viewer.socket, 'notification.settings', {})).toMatchObject({ email: true });
    await toggle.check();
    await page.getByText('Saved: notifications come by email too.').waitFor();
    expect(await must(team.member.socket, 'notification.settings', {})).toMatchObject({ email: true });
  });
});
