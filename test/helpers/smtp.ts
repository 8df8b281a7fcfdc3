// A real SMTP server on loopback (smtp-server, nodemailer's own), keeping every message it accepts,
// parsed with mailparser: who it was for, subject, text and HTML. It may require a user and password,
// and may refuse the first deliveries with a temporary error (to show retries).
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { Arrivals } from './receivers.js';

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  headers: Map<string, unknown>;
  raw: string;
}

export interface TestSmtpServer {
  port: number;
  mails: ReceivedMail[];
  /** Logins the server saw (user names), accepted or not. */
  logins: string[];
  /** The next `count` messages are refused with 451 (try again later) after their DATA. */
  refuseNext(count: number): void;
  /** How many messages were refused so far. */
  readonly refused: number;
  /** Resolves with the mails to `address` once at least `count` have arrived. */
  waitFor(address: string, count?: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  to(address: string): ReceivedMail[];
  close(): Promise<void>;
}

export async function startSmtpServer(options: { user?: string; password?: string } = {}): Promise<TestSmtpServer> {
  const arrivals = new Arrivals<ReceivedMail>();
  const logins: string[] = [];
  let refusals = 0;
  let refused = 0;
  const server = new SMTPServer({
    // Plain SMTP on loopback: no certificate to trust, so no STARTTLS (and login in the clear).
    disabledCommands: options.user ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !options.user,
    logger: false,
    onAuth(auth, _session, callback) {
      logins.push(auth.username ?? '');
      if (auth.username === options.user && auth.password === options.password) return callback(null, { user: auth.username });
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (refusals > 0) {
          refusals -= 1;
          refused += 1;
          return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        }
        const raw = Buffer.concat(chunks);
        // The envelope is the session's until the message is answered.
        const to = session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase());
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        simpleParser(raw).then(
          (parsed) => {
            callback();
            arrivals.add({
              to,
              from,
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              headers: parsed.headers,
              raw: raw.toString('utf8'),
            });
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const sentTo = (address: string) => (mail: ReceivedMail) => mail.to.includes(address.toLowerCase());
  return {
    port,
    mails: arrivals.all,
    logins,
    refuseNext(count) {
      refusals = count;
    },
    get refused() {
      return refused;
    },
    to: (address) => arrivals.where(sentTo(address)),
    waitFor: (address, count = 1, timeoutMs = 15_000) => arrivals.waitFor(sentTo(address), count, `mails to ${address}`, timeoutMs),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
