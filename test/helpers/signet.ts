// Test harness: real Signet nodes on real Redis, real Socket.IO clients, real HTTP.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { io as connectClient, type Socket } from 'socket.io-client';
import { loadConfig, type Config } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { startSignetNode, type SignetNode } from '../../server/index.js';
import type { RedisTarget } from '../../server/store/redis.js';
import { addMemberDirectly, createOrganization } from '../../server/auth/organizations.js';
import { CLI_SOURCE } from '../../server/audit/entries.js';
import type { CommandError, CommandName, CommandOptions } from '../../src/lib/shared/commands.js';
import type { ClientToServerEvents, HandshakeAuth, ServerToClientEvents } from '../../src/lib/shared/events.js';
import type { AuditActor, AuditEntry } from '../../src/lib/shared/entities.js';
import type { Role } from '../../src/lib/shared/permissions.js';

export const ORIGIN = 'http://signet.test';
export const OPERATOR: AuditActor = { type: 'operator', id: 'test', name: 'test operator' };

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents> & {
  /** The `ready` event of the handshake. */
  ready: { seq: number; resumed: boolean; replayed: number };
  /** Every event received, in order. */
  received: Array<{ event: string; data: any }>;
};

/** A command's acknowledgement, with `result` and `error` readable without narrowing first. */
export type TestAck<R = any> =
  | { ok: true; result: R; error?: undefined; replayed?: true }
  | { ok: false; result?: undefined; error: CommandError; replayed?: true };

export function redisUrl(): string {
  return inject('redisUrl');
}

/** The run's SoftHSM2 token (test/helpers/globalSetup.ts) as configuration variables, for nodes and the CLI. */
export function pkcs11Env(): Record<string, string> {
  const token = inject('pkcs11');
  return {
    SIGNET_PKCS11_MODULE: token.modulePath,
    SIGNET_PKCS11_TOKEN_LABEL: token.tokenLabel,
    SIGNET_PKCS11_PIN_FILE: token.pinFile,
    SOFTHSM2_CONF: token.softhsmConf,
  };
}

/** A configuration of its own: a fresh key prefix isolates this test's data in the shared Redis. */
export function testConfig(overrides: Record<string, string> = {}, prefix = `t${randomBytes(4).toString('hex')}:`): Config {
  return loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    SIGNET_PUBLIC_URL: ORIGIN,
    SIGNET_REDIS_PREFIX: prefix,
    SIGNET_MASTER_KEY: randomBytes(32).toString('base64'),
    SIGNET_DATA_DIR: '/tmp/signet-test-unused',
    LOG_LEVEL: 'silent',
    // Test receivers and issuers listen on 127.0.0.1.
    SIGNET_OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
    // Expiry notices would arrive at unforeseen moments; the tests that want them sweep with a clock.
    SIGNET_CERT_EXPIRY_SWEEP_MINUTES: '0',
    // A busy CI machine can take longer than the product's 1.5 s to answer an ordinary command; the
    // tests of what the deadline does (commandDeadline, faults, commandRetry, sentinel) set it back.
    SIGNET_COMMAND_DEADLINE_MS: '10000',
    ...pkcs11Env(),
    ...overrides,
  });
}

export async function startNode(config: Config = testConfig(), redis: RedisTarget = redisUrl()): Promise<SignetNode> {
  return startSignetNode({ config, redis, serveUi: false, logger: createLogger('silent') });
}

export interface TestUser {
  role: Role;
  email: string;
  password: string;
  userId: string;
}

export interface TestOrg {
  orgId: string;
  slug: string;
  users: Record<Role, TestUser>;
}

/** An organization with one user per role, created the way an operator does. */
export async function seedOrg(node: SignetNode, slug = `org-${randomBytes(3).toString('hex')}`): Promise<TestOrg> {
  const password = 'correct horse battery staple';
  const email = (role: string) => `${role}@${slug}.example.com`;
  const created = await createOrganization(
    node.signet,
    { orgSlug: slug, orgName: `Org ${slug}`, ownerEmail: email('owner'), ownerName: 'Olivia Owner', ownerPassword: password },
    OPERATOR,
    CLI_SOURCE,
  );
  const users = { owner: { role: 'owner', email: email('owner'), password, userId: created.owner.userId } } as Record<Role, TestUser>;
  for (const [role, name] of [['admin', 'Adam Admin'], ['member', 'Mia Member'], ['viewer', 'Victor Viewer']] as const) {
    const member = await addMemberDirectly(node.signet, created.org.id, { email: email(role), name, role, password }, OPERATOR, CLI_SOURCE);
    users[role] = { role, email: email(role), password, userId: member.userId };
  }
  return { orgId: created.org.id, slug, users };
}

export interface Rest {
  status: number;
  body: { ok: boolean; result?: any; error?: { code: string; message: string; issues?: Array<{ path: string; message: string }>; current?: any } };
  headers: Headers;
}

export async function http(node: Pick<SignetNode, 'url'>, method: string, path: string, options: { body?: unknown; cookie?: string; token?: string; origin?: string | null; headers?: Record<string, string> } = {}): Promise<Rest> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.origin !== null) headers.origin = options.origin ?? ORIGIN;
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { ok: false, raw: text };
  }
  return { status: response.status, body, headers: response.headers };
}

/** Signs in over REST and returns the session cookie. */
export async function signIn(node: Pick<SignetNode, 'url'>, user: { email: string; password: string }): Promise<string> {
  const response = await http(node, 'POST', '/api/v1/auth/login', { body: { email: user.email, password: user.password } });
  if (response.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(response.body)}`);
  const cookie = response.headers.get('set-cookie')!;
  return cookie.split(';')[0]!;
}

export interface ConnectOptions {
  cookie?: string;
  token?: string;
  org?: string;
  lastSeq?: number;
  origin?: string | null;
}

/** A real Socket.IO client; resolves once connected and `ready` arrived (events before it are kept). */
export async function connect(node: SignetNode, options: ConnectOptions): Promise<ClientSocket> {
  const auth: HandshakeAuth = {};
  if (options.token) auth.token = options.token;
  if (options.org) auth.org = options.org;
  if (options.lastSeq !== undefined) auth.lastSeq = options.lastSeq;
  const extraHeaders: Record<string, string> = {};
  if (options.cookie) extraHeaders.cookie = options.cookie;
  if (options.origin !== null) extraHeaders.origin = options.origin ?? ORIGIN;
  const socket = connectClient(node.url, { transports: ['websocket'], auth, extraHeaders, reconnection: false, forceNew: true }) as ClientSocket;
  socket.received = [];
  socket.onAny((event, data) => socket.received.push({ event, data }));
  await new Promise<void>((resolve, reject) => {
    socket.once('ready', (ready) => {
      socket.ready = ready;
      resolve();
    });
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/** Runs a command over the socket; `options` is its envelope (`{ requestId }`), sent as the fourth argument. */
export function command<R = any>(
  socket: Socket<ServerToClientEvents, ClientToServerEvents>,
  name: CommandName | string,
  input: unknown = {},
  options?: unknown,
): Promise<TestAck<R>> {
  return new Promise((resolve) => {
    const answered = (ack: unknown) => resolve(ack as TestAck<R>);
    if (options === undefined) socket.emit('command', name, input, answered);
    else socket.emit('command', name, input, options as CommandOptions, answered);
  });
}

/** Runs a command over REST as a signed-in user (cookie) or an API key. */
export async function restCommand(
  node: Pick<SignetNode, 'url'>,
  name: string,
  input: unknown,
  auth: { cookie?: string; token?: string; org?: string; idempotencyKey?: string },
): Promise<Rest> {
  return http(node, 'POST', `/api/v1/commands/${name}`, {
    body: input,
    cookie: auth.cookie,
    token: auth.token,
    headers: { ...(auth.org ? { 'x-signet-org': auth.org } : {}), ...(auth.idempotencyKey ? { 'idempotency-key': auth.idempotencyKey } : {}) },
  });
}

/** Resolves with the next `event` the socket receives that satisfies `match`. */
/** The last event sequence number a client saw: what it passes as lastSeq when it returns (as the console does). */
export function lastSeenSeq(socket: ClientSocket): number {
  const seqs = socket.received.filter((r) => ['change', 'audit', 'notification'].includes(r.event)).map((r) => r.data.seq as number);
  return Math.max(socket.ready?.seq ?? 0, ...seqs);
}

export function nextEvent<E extends keyof ServerToClientEvents>(socket: ClientSocket, event: E, match: (data: Parameters<ServerToClientEvents[E]>[0]) => boolean = () => true, timeoutMs = 15_000): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler as never);
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const handler = (data: Parameters<ServerToClientEvents[E]>[0]) => {
      if (!match(data)) return;
      clearTimeout(timer);
      socket.off(event, handler as never);
      resolve(data);
    };
    socket.on(event, handler as never);
  });
}

/** Every audit entry of the organization, oldest first, read straight from Redis. */
export async function auditLog(node: SignetNode, orgId: string): Promise<AuditEntry[]> {
  const rows = await node.signet.redis.zrange(node.signet.keys.audit(orgId), '0', '-1', 'WITHSCORES');
  const entries: AuditEntry[] = [];
  for (let i = 0; i < rows.length; i += 2) entries.push({ ...JSON.parse(rows[i]!), seq: Number(rows[i + 1]) });
  return entries;
}

/**
 * A snapshot of every key and value under the node's prefix, to show that nothing changed.
 * `include` leaves keys out before their values are read (a large audit log is slow to compare).
 */
export async function snapshot(node: SignetNode, include: (key: string) => boolean = () => true): Promise<Record<string, string>> {
  const { redis, keys } = node.signet;
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${keys.prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) if (!key.includes(':ratelimit') && !key.includes(':presence') && !key.includes('node:') && include(key)) found.add(key);
  } while (cursor !== '0');
  // Issued together, the reads share round trips (the client pipelines what one tick sends).
  const entries = await Promise.all(
    [...found].map(async (key): Promise<[string, string]> => {
      const type = await redis.type(key);
      const value =
        type === 'string' ? await redis.get(key)
        : type === 'hash' ? JSON.stringify(await redis.hgetall(key))
        : type === 'set' ? JSON.stringify((await redis.smembers(key)).sort())
        : type === 'zset' ? JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES'))
        : type === 'stream' ? String(await redis.xlen(key))
        : type;
      return [key, value ?? ''];
    }),
  );
  // A key that vanished between SCAN and the read (an expiring one) is left out, as if SCAN had missed it.
  return Object.fromEntries(entries.filter(([, value]) => value !== 'none').sort(([a], [b]) => a.localeCompare(b)));
}

/** Waits until the sealer has sealed every audit entry written so far (it runs every 200 ms). */
export async function auditSealed(node: SignetNode, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const { redis, keys } = node.signet;
  while ((await redis.scard(keys.auditUnsealed)) > 0) {
    if (Date.now() > deadline) throw new Error('audit entries were not sealed in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
