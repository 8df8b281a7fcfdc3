// What every scenario needs: the bench's own Redis, Signet nodes and bare baseline servers as child
// processes configured like real ones, and a "seeder" (a Signet runtime in this process, as the
// CLI has) that creates organizations, people and sessions the way operators do, and runs commands
// as an organization's owner (as `signet demo` does) without going through a socket.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { withEmbeddedToken } from '../../server/signing/custody/localToken.js';
import { loadConfig, type Config } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { connectRedis } from '../../server/store/redis.js';
import { freePort } from '../../server/store/localRedis.js';
import { standaloneSignet, type Signet } from '../../server/signet.js';
import { createOrganization, addMemberDirectly } from '../../server/auth/organizations.js';
import { createSessionFor, SESSION_COOKIE } from '../../server/auth/sessions.js';
import { CLI_SOURCE } from '../../server/audit/entries.js';
import { COMMANDS_BY_NAME } from '../../server/commands/registry.js';
import { createCommandContext, NO_NODE_SERVICES } from '../../server/commands/define.js';
import { ownerActor as actAsOwner, type Actor } from '../../server/auth/actor.js';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { CommandName } from '../../src/lib/shared/commands.js';
import { startServerProcess, type ServerProcess } from './processes.js';

export const BENCH_OPERATOR: AuditActor = { type: 'operator', id: 'bench', name: 'bench operator' };

export interface BenchContext {
  quick: boolean;
  redisUrl: string;
  /** The bench's own admin connection (flushing between scenarios, reading sequence numbers). */
  redis: Redis;
  tmpDir: string;
  /** Set with --profile: Signet nodes write a .cpuprofile here when they close. */
  profileDir: string | null;
  masterKey: string;
  /** Profile directories (one per Signet node) of the current scenario. */
  profiles: string[];
}

let instanceCounter = 0;

/** The environment of a Signet node (and of the seeder): a real configuration, with limits raised for load. */
export function signetEnv(ctx: BenchContext, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: ctx.redisUrl,
    HOST: '127.0.0.1',
    SIGNET_REDIS_PREFIX: prefix,
    SIGNET_MASTER_KEY: ctx.masterKey,
    SIGNET_DATA_DIR: path.join(ctx.tmpDir, 'data'),
    SIGNET_ARTIFACT_DIR: path.join(ctx.tmpDir, 'artifacts'),
    // One actor sends thousands of commands a minute here; the limiter still runs (one Redis call each).
    SIGNET_RATE_LIMIT_PER_MINUTE: '1000000000',
    // Fan-out and memory viewers share a few accounts (100 sockets each, and more).
    SIGNET_MAX_SOCKETS_PER_USER: '10000',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

export interface NodeOptions {
  exposeGc?: boolean;
  /** Profile name prefix when --profile is on. */
  scenario: string;
  /** Configuration beside the bench's defaults (e.g. the real rate limit). */
  env?: Record<string, string>;
}

/** Starts `count` Signet nodes sharing the prefix (one instance, several nodes), each in its own process. */
export async function startSignetNodes(ctx: BenchContext, prefix: string, count: number, options: NodeOptions): Promise<ServerProcess[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const port = await freePort();
      const name = `signet-${String.fromCharCode(97 + index)}`;
      const nodeFlags: string[] = [];
      if (options.exposeGc) nodeFlags.push('--expose-gc');
      if (ctx.profileDir) {
        // A directory per node: every thread (tsx's loader thread too) writes its own profile there.
        const dir = path.join(ctx.profileDir, `${options.scenario}-${name}-${++instanceCounter}`);
        nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
        ctx.profiles.push(dir);
      }
      return startServerProcess({
        name,
        script: 'signetNode.ts',
        nodeFlags,
        env: signetEnv(ctx, prefix, {
          PORT: String(port),
          SIGNET_PUBLIC_URL: `http://127.0.0.1:${port}`,
          SIGNET_NODE_ID: `bench-${name}-${instanceCounter}`,
          ...options.env,
        }),
      });
    }),
  );
}

/**
 * Starts `count` bare Socket.IO baseline servers; several share a Redis adapter (the two-node
 * baseline). `script`: another reference under bench/children/ (signetIoServer.ts), started alike.
 */
export async function startBareServers(
  ctx: BenchContext,
  count: number,
  options: { exposeGc?: boolean; name?: string; storeCommands?: boolean; scenario?: string; script?: string } = {},
): Promise<ServerProcess[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const name = `${options.name ?? 'bare'}-${String.fromCharCode(97 + index)}`;
      const nodeFlags = options.exposeGc ? ['--expose-gc'] : [];
      // With --profile, a reference named by its scenario is profiled too, to set beside the node's.
      if (ctx.profileDir && options.scenario) {
        const dir = path.join(ctx.profileDir, `${options.scenario}-${name}-${++instanceCounter}`);
        nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
        ctx.profiles.push(dir);
      }
      return startServerProcess({
        name,
        script: options.script ?? 'bareServer.ts',
        nodeFlags,
        env: {
          PORT: String(await freePort()),
          BARE_UPLOAD_DIR: path.join(ctx.tmpDir, `bare-uploads-${index}`),
          ...(count > 1 ? { REDIS_URL: ctx.redisUrl } : {}),
          ...(options.storeCommands ? { BARE_STORE_REDIS_URL: ctx.redisUrl } : {}),
        },
      });
    }),
  );
}

export async function stopAll(processes: Array<ServerProcess | undefined>): Promise<void> {
  await Promise.all(processes.map((process) => process?.stop()));
}

/** A fresh key prefix per scenario: nodes of one scenario share it, nothing else sees it. */
export function scenarioPrefix(name: string): string {
  return `bench:${name}:${randomBytes(3).toString('hex')}:`;
}

export interface SeededOwner {
  orgId: string;
  slug: string;
  ownerId: string;
  /** `signet_session=…` for the Cookie header. */
  cookie: string;
}

export interface Seeder {
  signet: Signet;
  config: Config;
  /** An organization whose owner has no password (no argon2 cost) and a live session. */
  createOrgWithOwner(slug: string): Promise<SeededOwner>;
  /**
   * An administrator of `org` with a session. The account is created as the owner of a home
   * organization of its own (no password hashing), so its sockets name the org: auth.org = slug.
   */
  addAdmin(org: SeededOwner, handle: string): Promise<{ userId: string; cookie: string }>;
  /** Runs a command's handler as the organization's owner, audited as such (like `signet demo`). */
  asOwner<R = any>(orgId: string, name: CommandName, input: unknown): Promise<R>;
  close(): void;
}

export async function openSeeder(ctx: BenchContext, prefix: string): Promise<Seeder> {
  mkdirSync(path.join(ctx.tmpDir, 'data'), { recursive: true });
  // The nodes' token too (see children/signetNode.ts), so the seeder can generate token-held certificates.
  const config = withEmbeddedToken(loadConfig(signetEnv(ctx, prefix, { PORT: '0' })), (message) => process.stderr.write(`${message}\n`));
  const redis = await connectRedis(ctx.redisUrl);
  const signet = standaloneSignet(config, redis, createLogger('silent'));
  const actors = new Map<string, Actor>();

  async function sessionCookie(userId: string): Promise<string> {
    const user = (await signet.store.users.get(userId))!.value;
    const { sessionId } = await createSessionFor(signet, user, CLI_SOURCE);
    return `${SESSION_COOKIE}=${sessionId}`;
  }

  async function ownerActor(orgId: string): Promise<Actor> {
    const cached = actors.get(orgId);
    if (cached) return cached;
    const org = (await signet.store.organizations.get(orgId))!.value;
    const owner = (await signet.store.members.get(orgId, org.ownerId))!.value;
    const actor = await actAsOwner(signet.store, orgId, { type: 'user', id: owner.userId, name: owner.name });
    actors.set(orgId, actor);
    return actor;
  }

  return {
    signet,
    config,
    async createOrgWithOwner(slug) {
      const created = await createOrganization(
        signet,
        { orgSlug: slug, orgName: `Bench ${slug}`, ownerEmail: `owner@${slug}.bench.test`, ownerName: `Owner ${slug}` },
        BENCH_OPERATOR,
        CLI_SOURCE,
      );
      return { orgId: created.org.id, slug, ownerId: created.owner.userId, cookie: await sessionCookie(created.owner.userId) };
    },
    async addAdmin(org, handle) {
      const home = await createOrganization(
        signet,
        { orgSlug: `${org.slug}-${handle}`, orgName: `Home of ${handle}`, ownerEmail: `${handle}@${org.slug}.bench.test`, ownerName: `Admin ${handle}` },
        BENCH_OPERATOR,
        CLI_SOURCE,
      );
      const member = await addMemberDirectly(
        signet,
        org.orgId,
        // The account exists already, so this password is never hashed nor used.
        { email: `${handle}@${org.slug}.bench.test`, name: `Admin ${handle}`, role: 'admin', password: 'unused bench password' },
        BENCH_OPERATOR,
        CLI_SOURCE,
      );
      if (member.userId !== home.owner.userId) throw new Error('the admin account was not reused');
      return { userId: member.userId, cookie: await sessionCookie(member.userId) };
    },
    async asOwner(orgId, name, input) {
      const command = COMMANDS_BY_NAME.get(name)!;
      const context = createCommandContext(signet, NO_NODE_SERVICES, command.name, await ownerActor(orgId), CLI_SOURCE);
      return (await command.handler(context, command.input.parse(input) as never)) as never;
    },
    close() {
      redis.disconnect();
    },
  };
}

/** Runs `work` for 0..count-1 with at most `limit` at a time. */
export async function mapLimit<T>(count: number, limit: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await work(index);
      }
    }),
  );
  return results;
}
