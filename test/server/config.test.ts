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
  ] as const) {
    it(`rejects ${variable}=${value}, naming the variable`, () => {
      expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(variable));
    });
  }

  it('stops `npm start`’s server with the message before touching anything', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { ...process.env, PORT: '70000', SIGNET_DATA_DIR: '/tmp/signet-config-test' },
    }).catch((error) => error);
    expect(failure.code).toBe(78);
    expect(failure.stderr).toMatch(/PORT/);
  });
});
