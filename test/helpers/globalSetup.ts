// One real redis-server for the whole run (on a free port), unless REDIS_URL points at one.
// Test files isolate themselves with a key prefix of their own.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { spawnRedisServer } from '../../server/store/localRedis.js';

export default async function setup(project: TestProject) {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-test-redis-'));
  const redis = await spawnRedisServer({ dir });
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
