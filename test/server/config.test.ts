// Configuration comes from the environment; a bad value stops the start with a message naming it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseEnv } from '../../server/config.js';

const run = promisify(execFile);

describe('configuration', () => {
  it('has working defaults', () => {
    const env = parseEnv({});
    expect(env.PORT).toBe(3000);
    expect(env.SIGNET_DATA_DIR).toBe('./data');
    expect(env.SIGNET_MAX_SOCKETS_PER_USER).toBe(20);
    expect(env.SIGNET_LOGIN_FAILURES_PER_ADDRESS).toBe(50);
    // The burst limit follows the minute's budget unless set.
    expect(loadConfig({ SIGNET_MASTER_KEY: 'A'.repeat(43) + '=' }).rateLimitBurst).toBe(100);
    expect(loadConfig({ SIGNET_MASTER_KEY: 'A'.repeat(43) + '=', SIGNET_RATE_LIMIT_PER_MINUTE: '60' }).rateLimitBurst).toBe(10);
  });

  for (const [variable, value] of [
    ['PORT', 'eighty'],
    ['REDIS_URL', 'http://not-redis'],
    ['SIGNET_MASTER_KEY', 'too-short'],
    ['SIGNET_RATE_LIMIT_PER_MINUTE', '0'],
    ['SIGNET_MAX_SOCKETS_PER_USER', '0'],
    ['SIGNET_RATE_LIMIT_BURST', '-5'],
    ['SIGNET_LOGIN_FAILURES_PER_ADDRESS', 'many'],
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

  it('REDIS_SENTINELS lists host:port pairs (IPv6 in brackets); the primary is named "signet" unless REDIS_SENTINEL_MASTER says otherwise', () => {
    const env = parseEnv({ REDIS_SENTINELS: 'sentinel-1:26379, [::1]:26380,10.0.0.3:26381' });
    expect(env.REDIS_SENTINELS).toEqual([
      { host: 'sentinel-1', port: 26379 },
      { host: '::1', port: 26380 },
      { host: '10.0.0.3', port: 26381 },
    ]);
    expect(env.REDIS_SENTINEL_MASTER).toBe('signet');
    expect(env.SIGNET_DURABILITY).toBe('local');
    expect(parseEnv({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'mymaster' }).REDIS_SENTINEL_MASTER).toBe('mymaster');
  });

  for (const [env, message] of [
    [{ REDIS_SENTINELS: 'sentinel-1' }, 'REDIS_SENTINELS: "sentinel-1" is not host:port'],
    [{ REDIS_SENTINELS: 'sentinel-1:26379,sentinel-2:99999' }, 'REDIS_SENTINELS: "sentinel-2:99999" is not host:port'],
    [{ REDIS_SENTINELS: ' , ' }, 'REDIS_SENTINELS: must list at least one Sentinel'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'two words' }, 'REDIS_SENTINEL_MASTER: must be 1 to 64'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_URL: 'redis://redis:6379' }, 'REDIS_SENTINELS: set either REDIS_URL or REDIS_SENTINELS, not both'],
    [{ REDIS_URL: 'redis://redis:6379', REDIS_PASSWORD: 'secret' }, 'REDIS_PASSWORD: only applies with REDIS_SENTINELS'],
    [{ REDIS_SENTINEL_PASSWORD: 'secret' }, 'REDIS_SENTINEL_PASSWORD: only applies with REDIS_SENTINELS'],
    [{ SIGNET_DURABILITY: 'replicated' }, 'SIGNET_DURABILITY: replicated needs a Redis with replicas'],
    [{ REDIS_URL: 'redis://redis:6379', SIGNET_DURABILITY: 'eventually' }, 'SIGNET_DURABILITY'],
  ] as const) {
    it(`refuses ${JSON.stringify(env)}, saying why`, () => {
      expect(() => parseEnv(env)).toThrow(ConfigError);
      expect(() => parseEnv(env)).toThrow(message);
    });
  }

  it('a refused password is not repeated in the message', () => {
    expect(() => parseEnv({ REDIS_PASSWORD: 'hunter2-very-secret' })).not.toThrow(/hunter2/);
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

  describe('the PKCS#11 token (SIGNET_PKCS11_*)', () => {
    const base = { SIGNET_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };
    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig({ ...base, ...env });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${JSON.stringify(env)}`);
    };

    it('a module needs a token label and a PIN (or PIN file); the message names what is missing', () => {
      const message = refusal({ SIGNET_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so' });
      expect(message).toMatch(/SIGNET_PKCS11_TOKEN_LABEL: required with SIGNET_PKCS11_MODULE/);
      expect(message).toMatch(/SIGNET_PKCS11_PIN: required with SIGNET_PKCS11_MODULE/);
    });

    it('refuses a relative module path, a PIN given twice, and token settings without a module — never echoing the PIN', () => {
      expect(refusal({ SIGNET_PKCS11_MODULE: 'libsofthsm2.so', SIGNET_PKCS11_TOKEN_LABEL: 't', SIGNET_PKCS11_PIN: 'secret-pin-1' })).toMatch(/SIGNET_PKCS11_MODULE: must be an absolute path/);
      const twice = refusal({ SIGNET_PKCS11_MODULE: '/m.so', SIGNET_PKCS11_TOKEN_LABEL: 't', SIGNET_PKCS11_PIN: 'secret-pin-2', SIGNET_PKCS11_PIN_FILE: '/tmp/pin' });
      expect(twice).toMatch(/SIGNET_PKCS11_PIN_FILE: give the PIN either/);
      const orphan = refusal({ SIGNET_PKCS11_PIN: 'secret-pin-3' });
      expect(orphan).toMatch(/SIGNET_PKCS11_PIN: needs SIGNET_PKCS11_MODULE/);
      for (const message of [twice, orphan]) expect(message).not.toMatch(/secret-pin/);
    });

    it('reads the PIN from its file; an unreadable or empty file stops the start, naming it', () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-pin-'));
      try {
        const file = path.join(dir, 'pin');
        writeFileSync(file, 'from-the-file\n', { mode: 0o600 });
        const config = loadConfig({ ...base, SIGNET_PKCS11_MODULE: '/m.so', SIGNET_PKCS11_TOKEN_LABEL: 'signet', SIGNET_PKCS11_PIN_FILE: file });
        expect(config.pkcs11).toEqual({ modulePath: '/m.so', tokenLabel: 'signet', pin: 'from-the-file', environment: {}, embedded: false });
        expect(refusal({ SIGNET_PKCS11_MODULE: '/m.so', SIGNET_PKCS11_TOKEN_LABEL: 'signet', SIGNET_PKCS11_PIN_FILE: path.join(dir, 'missing') })).toMatch(
          /SIGNET_PKCS11_PIN_FILE: cannot read .*missing \(ENOENT\)/,
        );
        writeFileSync(file, '\n');
        expect(refusal({ SIGNET_PKCS11_MODULE: '/m.so', SIGNET_PKCS11_TOKEN_LABEL: 'signet', SIGNET_PKCS11_PIN_FILE: file })).toMatch(/SIGNET_PKCS11_PIN_FILE: .* is empty/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('without a module there is no configured token (the embedded one is set up at start)', () => {
      expect(loadConfig(base).pkcs11).toBeNull();
    });
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
