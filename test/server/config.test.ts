// Configuration comes from the environment; a bad value stops the start with a message naming it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseEnv } from '../../server/config.js';

const run = promisify(execFile);

describe('configuration', () => {
  it('has working defaults', () => {
    const env = parseEnv({});
    expect(env.PORT).toBe(3000);
    expect(env.SIGNET_DATA_DIR).toBe('./data');
  });

  for (const [variable, value] of [
    ['PORT', 'eighty'],
    ['REDIS_URL', 'http://not-redis'],
    ['SIGNET_MASTER_KEY', 'too-short'],
    ['SIGNET_RATE_LIMIT_PER_MINUTE', '0'],
    ['SIGNET_EVENT_RETENTION', '1e21'],
    ['LOG_LEVEL', 'loud'],
    ['SIGNET_OUTBOUND_ALLOWED_CIDRS', '10.0.0.0/8,169.254.0.0/16'],
    ['SIGNET_OUTBOUND_ALLOWED_CIDRS', 'everything'],
    ['SIGNET_SMTP_URL', 'http://mail.example.com'],
    ['SIGNET_MAIL_FROM', 'not an address'],
    ['SIGNET_MAIL_ATTEMPTS', '0'],
  ] as const) {
    it(`rejects ${variable}=${value}, naming the variable`, () => {
      expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(variable));
    });
  }

  it('SIGNET_SMTP_URL needs SIGNET_MAIL_FROM, and a refused SMTP URL is never echoed with its password', () => {
    expect(() => loadConfig({ SIGNET_SMTP_URL: 'smtp://mailer:s3cret-pw@mail.example.com:587' })).toThrow(/SIGNET_MAIL_FROM: is needed with SIGNET_SMTP_URL/);
    let message = '';
    try {
      loadConfig({ SIGNET_SMTP_URL: 'imap://mailer:s3cret-pw@mail.example.com', SIGNET_MAIL_FROM: 'signet@example.com' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('SIGNET_SMTP_URL: must be an smtp:// or smtps:// URL');
    expect(message).not.toContain('s3cret-pw');
    const config = loadConfig({ SIGNET_MASTER_KEY: 'A'.repeat(43) + '=', SIGNET_SMTP_URL: 'smtps://mailer:s3cret-pw@mail.example.com', SIGNET_MAIL_FROM: 'Signet <signet@example.com>' });
    expect(config).toMatchObject({ SIGNET_MAIL_FROM: 'Signet <signet@example.com>', SIGNET_MAIL_ATTEMPTS: 8 });
  });

  it('SIGNET_OUTBOUND_ALLOWED_CIDRS names the entry that can never be allowed', () => {
    expect(() => loadConfig({ SIGNET_OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32,169.254.169.254/32' })).toThrow(
      'SIGNET_OUTBOUND_ALLOWED_CIDRS: "169.254.169.254/32" covers a cloud metadata address, where Signet never sends requests',
    );
  });

  it('allows no outbound CIDRs by default; the deprecated SIGNET_OUTBOUND_ALLOW_LOOPBACK=true adds loopback', () => {
    const cidrs = (env: Record<string, string>) => loadConfig({ SIGNET_MASTER_KEY: 'A'.repeat(43) + '=', ...env }).outboundAllowedCidrs.map(([address, bits]) => `${address}/${bits}`);
    expect(cidrs({})).toEqual([]);
    expect(cidrs({ SIGNET_OUTBOUND_ALLOWED_CIDRS: '10.0.0.0/8, fd00::/8' })).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(cidrs({ SIGNET_OUTBOUND_ALLOW_LOOPBACK: 'true', SIGNET_OUTBOUND_ALLOWED_CIDRS: '10.0.0.0/8' })).toEqual(['10.0.0.0/8', '127.0.0.0/8', '::1/128']);
  });

  it('stops `npm start`’s server with the message before touching anything', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { ...process.env, PORT: '70000', SIGNET_DATA_DIR: '/tmp/signet-config-test' },
    }).catch((error) => error);
    expect(failure.code).toBe(78);
    // Said through the logger: one JSON line (stdout is not a terminal here), level fatal.
    const said = JSON.parse(failure.stdout.trim());
    expect(said).toMatchObject({ level: 60, msg: expect.stringMatching(/PORT/) });
  });
});
