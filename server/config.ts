// Configuration from environment variables, parsed by zod. A bad value stops the start with a
// message that names the variable.
import { z } from 'zod';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const bool = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const EnvSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  SIGNET_DATA_DIR: z.string().min(1).default('./data'),
  SIGNET_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  SIGNET_ALLOWED_ORIGINS: z.string().optional(),
  SIGNET_MASTER_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes in base64 (44 characters)')
    .optional(),
  SIGNET_NODE_ID: z.string().regex(/^[\w.-]{1,64}$/).optional(),
  SIGNET_REDIS_PREFIX: z.string().regex(/^[\w:.-]{0,64}$/).default(''),
  SIGNET_SESSION_TTL_HOURS: positiveInt.max(24 * 90).default(12),
  SIGNET_RATE_LIMIT_PER_MINUTE: positiveInt.default(600),
  /** Commands per actor in any 10 seconds on one node (default: a sixth of the minute's). */
  SIGNET_RATE_LIMIT_BURST: positiveInt.optional(),
  SIGNET_MAX_SOCKETS_PER_USER: positiveInt.max(10_000).default(20),
  /** Failed sign-ins (and invitation acceptances) from one address, over all accounts, per 15 minutes. */
  SIGNET_LOGIN_FAILURES_PER_ADDRESS: positiveInt.max(1_000_000).default(50),
  SIGNET_MAX_MESSAGE_BYTES: positiveInt.min(1024).default(1_000_000),
  SIGNET_EVENT_RETENTION: positiveInt.min(100).max(1_000_000_000).default(100_000),
  SIGNET_TRUST_PROXY: bool.default(false),
  /** Let webhooks and JWKS URLs point at this machine (loopback); off by default. */
  SIGNET_OUTBOUND_ALLOW_LOOPBACK: bool.default(false),
  SIGNET_ARTIFACT_DIR: z.string().min(1).optional(),
  SIGNET_MAX_UPLOAD_BYTES: positiveInt.max(2 * 1024 ** 3).default(2 * 1024 ** 3),
  SIGNET_REQUEST_EXPIRY_HOURS: z.coerce.number().positive().max(24 * 365).default(72),
  SIGNET_WORKER_CONCURRENCY: positiveInt.max(64).default(2),
  SIGNET_JOB_LOCK_MS: positiveInt.min(1000).default(30_000),
  SIGNET_WEBHOOK_ATTEMPTS: positiveInt.max(20).default(8),
  /** Fault injection for tests: the worker process exits right before signing. Never set in production. */
  SIGNET_FAULT_CRASH_BEFORE_SIGNING: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config extends Env {
  publicUrl: string;
  allowedOrigins: string[];
  /** 32 bytes; derives the audit signing key (and encrypts private keys at rest). */
  masterKey: Buffer;
  nodeId: string;
  artifactDir: string;
  /** SIGNET_RATE_LIMIT_BURST, or its default. */
  rateLimitBurst: number;
}

export class ConfigError extends Error {}

export function parseEnv(env: NodeJS.ProcessEnv): Env {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Reads SIGNET_MASTER_KEY, or the key file under the data directory, creating it (mode 0600) on first run. */
function loadMasterKey(env: Env): Buffer {
  if (env.SIGNET_MASTER_KEY) return Buffer.from(env.SIGNET_MASTER_KEY, 'base64');
  const file = path.join(env.SIGNET_DATA_DIR, 'master.key');
  if (!existsSync(file)) {
    mkdirSync(env.SIGNET_DATA_DIR, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new ConfigError(`Invalid configuration:\n  ${file}: must hold 32 bytes in base64`);
  return key;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = parseEnv(env);
  const publicUrl = (parsed.SIGNET_PUBLIC_URL ?? `http://localhost:${parsed.PORT}`).replace(/\/$/, '');
  const allowedOrigins = parsed.SIGNET_ALLOWED_ORIGINS
    ? parsed.SIGNET_ALLOWED_ORIGINS.split(',').map((origin) => origin.trim()).filter(Boolean)
    : [new URL(publicUrl).origin];
  return {
    ...parsed,
    publicUrl,
    allowedOrigins,
    masterKey: loadMasterKey(parsed),
    nodeId: parsed.SIGNET_NODE_ID ?? `node-${randomBytes(4).toString('hex')}`,
    artifactDir: path.resolve(parsed.SIGNET_ARTIFACT_DIR ?? path.join(parsed.SIGNET_DATA_DIR, 'artifacts')),
    rateLimitBurst: parsed.SIGNET_RATE_LIMIT_BURST ?? Math.ceil(parsed.SIGNET_RATE_LIMIT_PER_MINUTE / 6),
  };
}
