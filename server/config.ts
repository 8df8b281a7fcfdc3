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
  /** Commands per actor in any 10 seconds on one node (default: a sixth of the minute's). */
  SIGNET_RATE_LIMIT_BURST: positiveInt.optional(),
  SIGNET_MAX_SOCKETS_PER_USER: positiveInt.max(10_000).default(20),
  /** Failed sign-ins (and invitation acceptances) from one address, over all accounts, per 15 minutes. */
  SIGNET_LOGIN_FAILURES_PER_ADDRESS: positiveInt.max(1_000_000).default(50),
  SIGNET_MAX_MESSAGE_BYTES: positiveInt.min(1024).default(1_000_000),
  SIGNET_EVENT_RETENTION: positiveInt.min(100).max(1_000_000_000).default(100_000),
  SIGNET_TRUST_PROXY: bool.default(false),
  /**
   * Loopback, private, CGNAT or unique-local ranges that webhooks, chat channels and JWKS URLs may reach
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
  /**
   * How long one minute of a policy's escalation wait lasts, in milliseconds. Only tests change it
   * (1000: a policy's minutes pass as seconds); never set it in production.
   */
  SIGNET_ESCALATION_MINUTE_MS: positiveInt.min(100).max(60_000).default(60_000),
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
  /** How often each node looks for certificates about to expire (0: never; tests sweep with a clock of their own). */
  SIGNET_CERT_EXPIRY_SWEEP_MINUTES: z.coerce.number().int().min(0).max(24 * 60).default(60),
  /** PKCS#11 token for token-held keys (an HSM's module). Unset: the embedded SoftHSM2 token under the data directory. */
  SIGNET_PKCS11_MODULE: z.string().min(1).refine((value) => path.isAbsolute(value), 'must be an absolute path to the PKCS#11 module (.so)').optional(),
  SIGNET_PKCS11_TOKEN_LABEL: z.string().min(1).max(32, 'a PKCS#11 token label has at most 32 characters').optional(),
  SIGNET_PKCS11_PIN: z.string().min(1).max(256).optional(),
  SIGNET_PKCS11_PIN_FILE: z.string().min(1).optional(),
  /** SoftHSM2 reads its configuration file from this variable; passed to the module when Signet loads it. */
  SOFTHSM2_CONF: z.string().min(1).optional(),
  /**
   * The SMTP server notifications and invitations are mailed through (smtp://host:587 with
   * STARTTLS when offered, smtps://host:465; user and password may be in the URL). Unset: no email.
   * Operator configuration, trusted like SIGNET_TSA_URL: it is not held to the outbound rules.
   */
  SIGNET_SMTP_URL: z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' }).optional(),
  /** The From address of Signet's mail, e.g. "Signet <signet@example.com>"; needed with SIGNET_SMTP_URL. */
  SIGNET_MAIL_FROM: z
    .string()
    .max(300)
    .regex(/^(?:[^<>@]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/, 'must be an address, or a name and <address>')
    .optional(),
  SIGNET_MAIL_ATTEMPTS: positiveInt.max(20).default(8),
  /**
   * How long a command may take before it is answered UNAVAILABLE, whatever Redis does (SPEC §10:
   * within two seconds). One deadline for the whole command, not for each Redis call.
   */
  SIGNET_COMMAND_DEADLINE_MS: positiveInt.min(100).max(60_000).default(1500),
  /** How long SIGTERM may take: in-flight commands and running signing jobs get this long to finish. */
  SIGNET_DRAIN_TIMEOUT_MS: positiveInt.min(100).max(600_000).default(20_000),
  /** Output a socket may have waiting to be sent; a socket that stops reading is disconnected past it. */
  SIGNET_MAX_SOCKET_BUFFER_BYTES: positiveInt.min(16_384).max(1024 ** 3).default(4 * 1024 ** 2),
  /** Fault injection for tests: the worker process exits right before signing. Never set in production. */
  SIGNET_FAULT_CRASH_BEFORE_SIGNING: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).superRefine((env, context) => {
  const issue = (variable: string, message: string) => context.addIssue({ code: 'custom', path: [variable], message });
  if (env.SIGNET_SMTP_URL && !env.SIGNET_MAIL_FROM) issue('SIGNET_MAIL_FROM', 'is needed with SIGNET_SMTP_URL: the address Signet mails from');
  // Settings that only mean something together.
  if (env.REDIS_URL && env.REDIS_SENTINELS) issue('REDIS_SENTINELS', 'set either REDIS_URL or REDIS_SENTINELS, not both');
  for (const variable of ['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD'] as const) {
    if (env[variable] !== undefined && !env.REDIS_SENTINELS) issue(variable, 'only applies with REDIS_SENTINELS (with REDIS_URL, put the password in the URL)');
  }
  if (env.SIGNET_DURABILITY === 'replicated' && !env.REDIS_URL && !env.REDIS_SENTINELS) {
    issue('SIGNET_DURABILITY', 'replicated needs a Redis with replicas (REDIS_URL or REDIS_SENTINELS); the local Redis has none');
  }
  if (env.SIGNET_PKCS11_PIN !== undefined && env.SIGNET_PKCS11_PIN_FILE !== undefined) {
    issue('SIGNET_PKCS11_PIN_FILE', 'give the PIN either in SIGNET_PKCS11_PIN or in SIGNET_PKCS11_PIN_FILE, not both');
  }
  const tokenSettings = ['SIGNET_PKCS11_TOKEN_LABEL', 'SIGNET_PKCS11_PIN', 'SIGNET_PKCS11_PIN_FILE'] as const;
  if (env.SIGNET_PKCS11_MODULE === undefined) {
    for (const variable of tokenSettings) {
      if (env[variable] !== undefined) issue(variable, 'needs SIGNET_PKCS11_MODULE (without it Signet uses its embedded SoftHSM2 token)');
    }
    return;
  }
  if (env.SIGNET_PKCS11_TOKEN_LABEL === undefined) issue('SIGNET_PKCS11_TOKEN_LABEL', 'required with SIGNET_PKCS11_MODULE: the label of the token that holds the keys');
  if (env.SIGNET_PKCS11_PIN === undefined && env.SIGNET_PKCS11_PIN_FILE === undefined) {
    issue('SIGNET_PKCS11_PIN', 'required with SIGNET_PKCS11_MODULE: the user PIN, or a file holding it in SIGNET_PKCS11_PIN_FILE');
  }
});

export type Env = z.infer<typeof EnvSchema>;

/** The PKCS#11 token that holds token-held keys; every node of an installation uses the same one. */
export interface Pkcs11Config {
  modulePath: string;
  tokenLabel: string;
  /** The user PIN: never logged, never in an error message. */
  pin: string;
  /** Variables the module reads when it loads (SoftHSM2: SOFTHSM2_CONF). */
  environment: Record<string, string>;
  /** Signet's own SoftHSM2 token under the data directory (the default), not a configured one. */
  embedded: boolean;
}

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
  /** The configured token; null until the embedded default is set up (server/signing/custody/localToken.ts), or when there is none. */
  pkcs11: Pkcs11Config | null;
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

/** The configured token (SIGNET_PKCS11_*), the PIN read from its file when given one. */
function loadPkcs11(env: Env): Pkcs11Config | null {
  if (!env.SIGNET_PKCS11_MODULE || !env.SIGNET_PKCS11_TOKEN_LABEL) return null;
  let pin = env.SIGNET_PKCS11_PIN;
  if (pin === undefined && env.SIGNET_PKCS11_PIN_FILE) {
    try {
      pin = readFileSync(env.SIGNET_PKCS11_PIN_FILE, 'utf8').trim();
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError(`Invalid configuration:\n  SIGNET_PKCS11_PIN_FILE: cannot read ${env.SIGNET_PKCS11_PIN_FILE} (${reason})`);
    }
    if (!pin) throw new ConfigError(`Invalid configuration:\n  SIGNET_PKCS11_PIN_FILE: ${env.SIGNET_PKCS11_PIN_FILE} is empty`);
  }
  return {
    modulePath: env.SIGNET_PKCS11_MODULE,
    tokenLabel: env.SIGNET_PKCS11_TOKEN_LABEL,
    pin: pin!,
    environment: env.SOFTHSM2_CONF ? { SOFTHSM2_CONF: env.SOFTHSM2_CONF } : {},
    embedded: false,
  };
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
    pkcs11: loadPkcs11(parsed),
    rateLimitBurst: parsed.SIGNET_RATE_LIMIT_BURST ?? Math.ceil(parsed.SIGNET_RATE_LIMIT_PER_MINUTE / 6),
  };
}
