// Data-format upgrades. Redis holds the version of everything under the key prefix
// (`<prefix>schema:version`); every node start and CLI run brings it to the newest version this
// code knows, before anything else touches the data. Several nodes starting at once take turns on
// a lock with a TTL (renewed while migrating, so a node that dies frees it), and each step moves the
// version by compare-and-set while that lock is held, so each migration is applied once.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { RedisKeys } from '../keys.js';
import type { Migration } from './migration.js';
import { dropUserSessionIndex } from './001-drop-user-session-index.js';
import { fillDashboardIndexes } from './002-fill-dashboard-indexes.js';

/** Every migration, in version order. */
export const MIGRATIONS: readonly Migration[] = [dropUserSessionIndex, fillDashboardIndexes];

export const SCHEMA_VERSION = MIGRATIONS.length;

for (const [index, migration] of MIGRATIONS.entries()) {
  if (migration.version !== index + 1) throw new Error(`migration "${migration.name}" has version ${migration.version}, expected ${index + 1}`);
}

export class SchemaTooNew extends Error {}

export interface MigrationOptions {
  /** How long the lock outlives a node that stopped renewing it. */
  lockMs?: number;
  /** How often a node waiting for another one's migration looks again. */
  pollMs?: number;
}

export interface MigrationResult {
  from: number;
  to: number;
  applied: string[];
}

// Moves the version from ARGV[1] to ARGV[2] only while this node holds the lock.
const SET_VERSION = `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
local current = redis.call('GET', KEYS[1]) or '0'
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export async function migrateStore(redis: Redis, keys: RedisKeys, logger: Logger, options: MigrationOptions = {}): Promise<MigrationResult> {
  const lockMs = options.lockMs ?? 30_000;
  const pollMs = options.pollMs ?? 250;
  let waiting = false;
  for (;;) {
    const version = await readVersion(redis, keys);
    if (version === SCHEMA_VERSION) return { from: version, to: version, applied: [] };
    const token = randomUUID();
    if ((await redis.set(keys.schemaLock, token, 'PX', lockMs, 'NX')) !== 'OK') {
      if (!waiting) logger.info({ version, target: SCHEMA_VERSION }, 'another node is migrating the data; waiting for it');
      waiting = true;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      continue;
    }
    const renewal = setInterval(() => void redis.eval(RENEW, 1, keys.schemaLock, token, String(lockMs)).catch(() => {}), Math.floor(lockMs / 3));
    try {
      return await migrateHoldingLock(redis, keys, logger, token);
    } finally {
      clearInterval(renewal);
      await redis.eval(RELEASE, 1, keys.schemaLock, token).catch(() => {});
    }
  }
}

async function readVersion(redis: Redis, keys: RedisKeys): Promise<number> {
  const raw = await redis.get(keys.schemaVersion);
  const version = raw === null ? 0 : Number(raw);
  if (!Number.isInteger(version) || version < 0) throw new Error(`${keys.schemaVersion} holds "${raw}", not a data-format version`);
  if (version > SCHEMA_VERSION) {
    throw new SchemaTooNew(
      `The data in this Redis is in format version ${version}, newer than this Signet knows (${SCHEMA_VERSION}): ` +
        'it was written by a newer Signet. Run that version (or newer) on every node.',
    );
  }
  return version;
}

async function migrateHoldingLock(redis: Redis, keys: RedisKeys, logger: Logger, token: string): Promise<MigrationResult> {
  const from = await readVersion(redis, keys);
  const applied: string[] = [];
  let version = from;
  if (version === 0 && (await redis.exists(keys.orgIds, keys.usersByEmail)) === 0) {
    // A new installation: nothing was written in an older format.
    await setVersion(redis, keys, token, 0, SCHEMA_VERSION);
    logger.info({ version: SCHEMA_VERSION }, 'new data store: format version recorded');
    return { from, to: SCHEMA_VERSION, applied };
  }
  for (const migration of MIGRATIONS.filter((candidate) => candidate.version > version)) {
    const startedAt = Date.now();
    const changed = await migration.up({ redis, keys });
    await setVersion(redis, keys, token, version, migration.version);
    logger.info({ from: version, to: migration.version, migration: migration.name, changed, ms: Date.now() - startedAt }, 'data migration applied');
    applied.push(migration.name);
    version = migration.version;
  }
  return { from, to: version, applied };
}

async function setVersion(redis: Redis, keys: RedisKeys, token: string, from: number, to: number): Promise<void> {
  const moved = await redis.eval(SET_VERSION, 2, keys.schemaVersion, keys.schemaLock, String(from), String(to), token);
  if (moved !== 1) throw new Error(`data migration to version ${to} stopped: this node lost the migration lock (it was paused longer than the lock lasts); start it again`);
}
