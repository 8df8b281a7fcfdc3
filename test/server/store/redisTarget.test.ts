// Where a node finds Redis: REDIS_URL, or the primary the Sentinels in REDIS_SENTINELS name; what the
// start-up log says about it never holds a password.
import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../../server/config.js';
import { configuredRedis, describeRedis } from '../../../server/store/redis.js';

describe('the configured Redis', () => {
  it('is REDIS_URL, the Sentinels with the primary’s name and passwords, or none (the local one)', () => {
    expect(configuredRedis(parseEnv({ REDIS_URL: 'redis://redis:6379' }))).toBe('redis://redis:6379');
    expect(configuredRedis(parseEnv({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_MASTER: 'main', REDIS_PASSWORD: 'p', REDIS_SENTINEL_PASSWORD: 'q' }))).toEqual({
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
      name: 'main',
      password: 'p',
      sentinelPassword: 'q',
    });
    expect(configuredRedis(parseEnv({}))).toBeNull();
  });

  it('is described without its passwords', () => {
    expect(describeRedis('redis://admin:hunter2@redis:6379/0')).toBe('redis://redis:6379/0');
    expect(describeRedis('unix:///data/redis.sock')).toBe('unix:///data/redis.sock');
    const sentinel = configuredRedis(parseEnv({ REDIS_SENTINELS: 's1:26379,[::1]:26380', REDIS_PASSWORD: 'hunter2', REDIS_SENTINEL_PASSWORD: 'hunter3' }))!;
    expect(describeRedis(sentinel)).toBe('Sentinel primary "signet" via s1:26379,[::1]:26380');
  });
});
