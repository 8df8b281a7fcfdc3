// The operator's commands of `signet` (org, operator, demo, audit). Run with the same
// SIGNET_DATA_DIR (default ./data), REDIS_URL or REDIS_SENTINELS as a running server, they work on that server's
// Redis. main.ts loads this module only when one of them runs, so `signet sign` needs none of it.
import { auditLog } from '../audit/log.js';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createLogger } from '../logger.js';
import { configuredRedis, connectRedis } from '../store/redis.js';
import { ensureLocalRedis, type LocalRedis } from '../store/localRedis.js';
import { standaloneSignet, type Signet } from '../signet.js';
import type { KnownCheckpoint } from '../audit/chain.js';
import { CheckpointError, openCheckpoint } from '../audit/checkpointNote.js';
import { readCheckpointRecord, recordPath } from '../audit/checkpointRecord.js';
import { CLI_SOURCE } from '../audit/entries.js';
import { createOrganization } from '../auth/organizations.js';
import { CommandFailure } from '../errors.js';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import { runDemo } from './demo.js';
import { withEmbeddedToken } from '../signing/custody/localToken.js';
import { prepareStore } from '../prepareStore.js';
import { MasterKeyMismatch } from '../store/masterKeyCheck.js';
import { SchemaTooNew } from '../store/migrations/index.js';
import { transferOwnership, setOpenSource, createOperator } from './operator.js';

export const OPERATOR_ACTOR: AuditActor = { type: 'operator', id: `cli:${os.userInfo().username}`, name: `operator (${os.userInfo().username})` };

async function withSignet<T>(config: Config, work: (signet: Signet) => Promise<T>): Promise<T> {
  let local: LocalRedis | null = null;
  let target = configuredRedis(config);
  if (!target) {
    local = await ensureLocalRedis(config.SIGNET_DATA_DIR);
    target = local.url;
  }
  const redis = await connectRedis(target);
  // What the CLI changes reaches live consoles through the channel its commits publish on.
  const signet = standaloneSignet(config, redis, createLogger('silent'));
  // The same checks as a node start: the installation's master key (a wrong one must not seal the
  // audit chain below), the data format (migrated once).
  await prepareStore(signet.store, config, signet.auditKey, signet.logger).catch(async (error: unknown) => {
    redis.disconnect();
    await local?.stop();
    throw error;
  });
  try {
    return await work(signet);
  } finally {
    // Seal what this run wrote, so the chain is whole even when no server is running.
    await auditLog(signet.store).sealPending(signet.auditKey, config.publicUrl);
    redis.disconnect();
    await local?.stop();
  }
}

/** Options each command needs. Checked here, not by commander, so a missing one stays INVALID_INPUT with exit 1. */
function need(values: Record<string, unknown>, ...names: string[]): void {
  const missing = names.filter((name) => values[camel(name)] === undefined);
  if (missing.length) throw new CommandFailure('INVALID_INPUT', `missing ${missing.map((name) => `--${name}`).join(', ')} (see --help)`);
}

const camel = (name: string) => name.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());

async function orgIdOf(signet: Signet, slug: string): Promise<string> {
  const orgId = await signet.store.organizations.idBySlug(slug);
  if (!orgId) throw new CommandFailure('NOT_FOUND', `Organization "${slug}" was not found`);
  return orgId;
}

/** A checkpoint note saved earlier, opened with this instance's key: a bad one stops the run, naming the file. */
async function savedCheckpoint(signet: Signet, orgId: string, file: string): Promise<KnownCheckpoint> {
  const note = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CommandFailure('INVALID_INPUT', `--checkpoint ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  try {
    const { size, hash } = openCheckpoint(note, signet.auditKey.publicKey, orgId);
    return { size, hash, source: `the checkpoint file ${file}` };
  } catch (error) {
    if (error instanceof CheckpointError) throw new CommandFailure('INVALID_INPUT', `--checkpoint ${file}: ${error.message}`);
    throw error;
  }
}

/** Option values as commander gives them (camelCase). */
export type OperatorOptions = Record<string, string | boolean | undefined>;

export const OPERATOR_COMMANDS = {
  async 'org create'(values: OperatorOptions): Promise<number> {
    need(values, 'slug', 'name', 'owner-email', 'owner-name');
    const config = loadConfig();
    const created = await withSignet(config, (signet) =>
      createOrganization(
        signet,
        {
          orgSlug: values.slug as string,
          orgName: values.name as string,
          ownerEmail: values.ownerEmail as string,
          ownerName: values.ownerName as string,
          ownerPassword: values.ownerPassword as string | undefined,
          openSource: values.openSource === true,
        },
        OPERATOR_ACTOR,
        CLI_SOURCE,
      ),
    );
    console.log(JSON.stringify({ org: created.org.slug, orgId: created.org.id, owner: created.owner.email, ownerSetupLink: created.ownerSetupLink }, null, 2));
    return 0;
  },
  async 'org transfer-ownership'(values: OperatorOptions): Promise<number> {
    need(values, 'org', 'to');
    const result = await withSignet(loadConfig(), async (signet) => transferOwnership(signet, await orgIdOf(signet, values.org as string), values.to as string, OPERATOR_ACTOR));
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
  async 'org open-source'(values: OperatorOptions): Promise<number> {
    need(values, 'org');
    if ((values.on === true) === (values.off === true)) throw new CommandFailure('INVALID_INPUT', 'give exactly one of --on or --off');
    const result = await withSignet(loadConfig(), async (signet) => setOpenSource(signet, await orgIdOf(signet, values.org as string), values.on === true, OPERATOR_ACTOR));
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
  async 'operator create'(values: OperatorOptions): Promise<number> {
    need(values, 'email', 'name');
    const result = await withSignet(loadConfig(), (signet) => createOperator(signet, values.email as string, values.name as string));
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
  async demo(values: OperatorOptions): Promise<number> {
    // The demo's token-held certificate goes into the server's token: the configured one, or the
    // data directory's embedded SoftHSM2 token.
    const config = withEmbeddedToken(loadConfig(), (message) => process.stderr.write(`${message}\n`));
    const demo = await withSignet(config, (signet) => runDemo(signet, OPERATOR_ACTOR));
    console.log(values.json ? JSON.stringify(demo) : JSON.stringify(demo, null, 2));
    return 0;
  },
  async 'audit verify'(values: OperatorOptions): Promise<number> {
    need(values, 'org');
    const config = loadConfig();
    const result = await withSignet(config, async (signet) => {
      const orgId = await orgIdOf(signet, values.org as string);
      const known: KnownCheckpoint[] = [];
      if (typeof values.checkpoint === 'string') known.push(await savedCheckpoint(signet, orgId, values.checkpoint));
      const recorded = await readCheckpointRecord(config.auditCheckpointDir, config.SIGNET_REDIS_PREFIX, signet.auditKey.publicKey, orgId);
      const source = `the data directory's record (${recordPath(config.auditCheckpointDir, config.SIGNET_REDIS_PREFIX, orgId)})`;
      for (const { size, hash } of recorded) known.push({ size, hash, source });
      return auditLog(signet.store).verify(signet.auditKey.publicKey, orgId, known);
    });
    console.log(JSON.stringify(result, null, 2));
    return result.ok ? 0 : 1;
  },
  async 'audit checkpoint'(values: OperatorOptions): Promise<number> {
    need(values, 'org');
    const config = loadConfig();
    const note = await withSignet(config, async (signet) =>
      auditLog(signet.store).checkpoint(signet.auditKey, config.publicUrl, await orgIdOf(signet, values.org as string)),
    );
    if (!note) throw new CommandFailure('NOT_FOUND', `The audit log of "${values.org}" has no validly signed checkpoint`);
    process.stdout.write(note);
    return 0;
  },
} satisfies Record<string, (values: OperatorOptions) => Promise<number>>;

export type OperatorCommand = keyof typeof OPERATOR_COMMANDS;

/** How an operator command's failure reads, and its exit code (78: configuration, 1: the rest). */
export function operatorFailure(error: unknown): { message: string; code: number } {
  if (error instanceof ConfigError || error instanceof MasterKeyMismatch || error instanceof SchemaTooNew) {
    return { message: error.message, code: error instanceof SchemaTooNew ? 1 : 78 };
  }
  if (error instanceof CommandFailure) return { message: `${error.code}: ${error.message}`, code: 1 };
  return { message: error instanceof Error ? error.message : String(error), code: 1 };
}
