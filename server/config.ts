// Configuration from environment variables, parsed by zod. A bad value stops the start with a
// message that names the variable.
import { z } from 'zod';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { LOOPBACK_CIDRS, parseAllowedCidrs, type Cidr } from './net/addresses.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const bool = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const EnvSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  /** Redis Sentinels (`host:port,host:port`) to ask where the primary is, instead of REDIS_URL. */
  REDIS_SENTINELS: z
    .string()
    .optional()
    .transform((text, context): SentinelAddress[] | undefined => {
      if (text === undefined) return undefined;
      try {
        return parseSentinels(text);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** The primary's name in the Sentinels' configuration (`sentinel monitor <name> …`). */
  REDIS_SENTINEL_MASTER: z.string().regex(/^[\w.-]{1,64}$/, 'must be 1 to 64 letters, digits, _ . or -').default('signet'),
  /** Password of the primary and its replicas when found through Sentinel (with REDIS_URL it goes in the URL). */
  REDIS_PASSWORD: z.string().min(1).optional(),
  /** Password of the Sentinels themselves (their `requirepass`). */
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  /**
   * `local`: a command is acknowledged once the primary has it (on disk with appendfsync always).
   * `replicated`: also once a replica has it (Redis WAIT), so a failover loses nothing acknowledged.
   */
  SIGNET_DURABILITY: z.enum(['local', 'replicated']).default('local'),
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
  SIGNET_MAX_MESSAGE_BYTES: positiveInt.min(1024).default(1_000_000),
  SIGNET_EVENT_RETENTION: positiveInt.min(100).max(1_000_000_000).default(100_000),
  SIGNET_TRUST_PROXY: bool.default(false),
  /**
   * Loopback, private, CGNAT or unique-local ranges that webhooks and JWKS URLs may reach
   * (comma-separated CIDRs); none by default. Link-local, metadata, unspecified, multicast and
   * reserved addresses can never be allowed.
   */
  SIGNET_OUTBOUND_ALLOWED_CIDRS: z
    .string()
    .default('')
    .transform((text, context): Cidr[] => {
      try {
        return parseAllowedCidrs(text);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Deprecated: `true` means SIGNET_OUTBOUND_ALLOWED_CIDRS also holds 127.0.0.0/8,::1/128. */
  SIGNET_OUTBOUND_ALLOW_LOOPBACK: bool.default(false),
  SIGNET_ARTIFACT_DIR: z.string().min(1).optional(),
  SIGNET_MAX_UPLOAD_BYTES: positiveInt.max(2 * 1024 ** 3).default(2 * 1024 ** 3),
  SIGNET_REQUEST_EXPIRY_HOURS: z.coerce.number().positive().max(24 * 365).default(72),
  SIGNET_WORKER_CONCURRENCY: positiveInt.max(64).default(2),
  SIGNET_JOB_LOCK_MS: positiveInt.min(1000).default(30_000),
  SIGNET_WEBHOOK_ATTEMPTS: positiveInt.max(20).default(8),
  /** Where this node keeps the highest audit checkpoint it has seen per organization (default: under the data directory). */
  SIGNET_AUDIT_CHECKPOINT_DIR: z.string().min(1).optional(),
  /** How often a node compares every organization's audit head in Redis with its checkpoint record. */
  SIGNET_AUDIT_CHECK_MS: positiveInt.min(50).max(3_600_000).default(15_000),
  /** RFC 3161 time-stamping authority for CMS and Authenticode signatures; a signing policy may name its own. */
  SIGNET_TSA_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** How long a TSA may take to answer before the request fails (or is signed without a timestamp, where the policy allows). */
  SIGNET_TSA_TIMEOUT_MS: positiveInt.max(120_000).default(15_000),
  /** Fault injection for tests: the worker process exits right before signing. Never set in production. */
  SIGNET_FAULT_CRASH_BEFORE_SIGNING: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).superRefine((env, context) => {
  // Settings that only mean something together.
  const problem = (variable: string, message: string) => context.addIssue({ code: 'custom', path: [variable], message });
  if (env.REDIS_URL && env.REDIS_SENTINELS) problem('REDIS_SENTINELS', 'set either REDIS_URL or REDIS_SENTINELS, not both');
  for (const variable of ['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD'] as const) {
    if (env[variable] !== undefined && !env.REDIS_SENTINELS) problem(variable, 'only applies with REDIS_SENTINELS (with REDIS_URL, put the password in the URL)');
  }
  if (env.SIGNET_DURABILITY === 'replicated' && !env.REDIS_URL && !env.REDIS_SENTINELS) {
    problem('SIGNET_DURABILITY', 'replicated needs a Redis with replicas (REDIS_URL or REDIS_SENTINELS); the local Redis has none');
  }
});

export type Env = z.infer<typeof EnvSchema>;

export interface SentinelAddress {
  host: string;
  port: number;
}

/** `host:port,host:port` (IPv6 in brackets: `[::1]:26379`); the port may not be left out. */
function parseSentinels(text: string): SentinelAddress[] {
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('must list at least one Sentinel as host:port');
  return entries.map((entry) => {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([\w.-]+)):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) throw new Error(`"${entry}" is not host:port (a Sentinel's address, e.g. sentinel-1:26379)`);
    return { host: match[1] ?? match[2]!, port };
  });
}

export interface Config extends Env {
  publicUrl: string;
  allowedOrigins: string[];
  /** 32 bytes; derives the audit signing key (and encrypts private keys at rest). */
  masterKey: Buffer;
  nodeId: string;
  artifactDir: string;
  /** SIGNET_OUTBOUND_ALLOWED_CIDRS, with what the deprecated SIGNET_OUTBOUND_ALLOW_LOOPBACK adds. */
  outboundAllowedCidrs: Cidr[];
  auditCheckpointDir: string;
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
    outboundAllowedCidrs: [
      ...parsed.SIGNET_OUTBOUND_ALLOWED_CIDRS,
      ...(parsed.SIGNET_OUTBOUND_ALLOW_LOOPBACK ? parseAllowedCidrs(LOOPBACK_CIDRS) : []),
    ],
    artifactDir: path.resolve(parsed.SIGNET_ARTIFACT_DIR ?? path.join(parsed.SIGNET_DATA_DIR, 'artifacts')),
    auditCheckpointDir: path.resolve(parsed.SIGNET_AUDIT_CHECKPOINT_DIR ?? path.join(parsed.SIGNET_DATA_DIR, 'audit-checkpoints')),
  };
}
