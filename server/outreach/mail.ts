// Email through the operator's SMTP server (SIGNET_SMTP_URL), with nodemailer. The SMTP server is
// configuration, trusted like SIGNET_TSA_URL: it is not held to the outbound rules for URLs users
// give. Its credentials (in the URL) never reach a log line, an error or a job's failure reason.
import { randomUUID } from 'node:crypto';
import { createTransport } from 'nodemailer';
import type { Config } from '../config.js';
import { openPrivateKey, sealPrivateKey } from '../store/keyVault.js';
import type { MailBody, MailDelivery } from './deliveries.js';

export interface Fact {
  label: string;
  value: string;
}

/** One mail before it is rendered: what happened, facts about it, where to look, and why the recipient gets it. */
export interface MailMessage {
  subject: string;
  heading: string;
  text: string;
  facts?: Fact[];
  action: { label: string; url: string };
  footer: string[];
}

const SMTP_TIMEOUTS = { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 30_000 };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The text and HTML bodies of a mail. */
function renderMail(message: MailMessage): MailBody {
  const facts = message.facts ?? [];
  const text = [
    message.heading,
    '',
    message.text,
    ...(facts.length ? ['', ...facts.map((fact) => `${fact.label}: ${fact.value}`)] : []),
    '',
    `${message.action.label}: ${message.action.url}`,
    '',
    '-- ',
    ...message.footer,
    '',
  ].join('\n');
  const muted = 'color:#59636e';
  const rows = facts
    .map((fact) => `<tr><td style="${muted};padding:2px 16px 2px 0;vertical-align:top">${escapeHtml(fact.label)}</td><td style="padding:2px 0;word-break:break-all">${escapeHtml(fact.value)}</td></tr>`)
    .join('');
  const html = [
    '<!doctype html><html><head><meta charset="utf-8"></head>',
    '<body style="font-family:system-ui,-apple-system,\'Segoe UI\',Roboto,sans-serif;color:#1f2328;line-height:1.5;margin:0;padding:16px">',
    `<p style="font-size:16px;font-weight:600;margin:0 0 8px">${escapeHtml(message.heading)}</p>`,
    `<p style="margin:0 0 16px">${escapeHtml(message.text)}</p>`,
    rows ? `<table role="presentation" style="border-collapse:collapse;margin:0 0 16px;font-size:14px">${rows}</table>` : '',
    `<p style="margin:0 0 24px"><a href="${escapeHtml(message.action.url)}" style="display:inline-block;background:#0969da;color:#ffffff;padding:8px 14px;border-radius:6px;text-decoration:none">${escapeHtml(message.action.label)}</a></p>`,
    `<p style="${muted};font-size:12px;margin:0">${message.footer.map(escapeHtml).join('<br>')}</p>`,
    '</body></html>',
  ].join('');
  return { text, html };
}

/**
 * A mail to one address. `sealed`: the body carries a secret meant for this recipient only (an
 * invitation link), so it is stored (outbox, job) only encrypted under the master key.
 */
export function mailDelivery(config: Config, orgId: string, to: string, message: MailMessage, options: { sealed?: boolean } = {}): MailDelivery {
  const id = `mail-${randomUUID()}`;
  const body = renderMail(message);
  return {
    channel: 'mail',
    id,
    orgId,
    to,
    subject: message.subject,
    body: options.sealed ? { sealed: sealPrivateKey(config.masterKey, Buffer.from(JSON.stringify(body)), id) } : body,
  };
}

export interface Mailer {
  send(delivery: MailDelivery): Promise<void>;
  close(): void;
}

/** The node's mailer, or null when no SMTP server is configured. */
export function createMailer(config: Config): Mailer | null {
  if (!config.SIGNET_SMTP_URL || !config.SIGNET_MAIL_FROM) return null;
  const transport = createTransport({ url: config.SIGNET_SMTP_URL, ...SMTP_TIMEOUTS, logger: false, debug: false });
  const secrets = smtpSecrets(config.SIGNET_SMTP_URL);
  return {
    async send(delivery) {
      const body = 'sealed' in delivery.body
        ? (JSON.parse(openPrivateKey(config.masterKey, delivery.body.sealed, delivery.id).toString('utf8')) as MailBody)
        : delivery.body;
      try {
        await transport.sendMail({
          from: config.SIGNET_MAIL_FROM,
          to: delivery.to,
          subject: delivery.subject,
          text: body.text,
          html: body.html,
          // RFC 3834: no vacation auto-replies to a machine.
          headers: { 'Auto-Submitted': 'auto-generated' },
        });
      } catch (error) {
        // What the SMTP server said, never the credentials the client used.
        const cause = error as Error & { code?: string; responseCode?: number };
        const said = [cause.code, cause.responseCode, cause.message].filter(Boolean).join(' ');
        throw new Error(`SMTP: ${redact(said, secrets)}`);
      }
    },
    close() {
      transport.close();
    },
  };
}

/** The user name, password and their AUTH PLAIN/LOGIN encodings, as they could appear in an SMTP reply. */
function smtpSecrets(url: string): string[] {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  if (!password) return [];
  return [
    password,
    parsed.password,
    Buffer.from(password).toString('base64'),
    Buffer.from(`\u0000${user}\u0000${password}`).toString('base64'),
  ].filter((secret) => secret.length >= 3);
}

function redact(text: string, secrets: string[]): string {
  return secrets.reduce((scrubbed, secret) => scrubbed.split(secret).join('[redacted]'), text);
}
