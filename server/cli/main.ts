// `signet` — the instance operator's command line. Run with the same SIGNET_DATA_DIR (default
// ./data), REDIS_URL or REDIS_SENTINELS as a running server, it works on that server's Redis.
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createLogger } from '../logger.js';
import { configuredRedis, connectRedis } from '../store/redis.js';
import { ensureLocalRedis, type LocalRedis } from '../store/localRedis.js';
import { createSignet, type Signet } from '../signet.js';
import { currentCheckpoint, sealAuditChain, verifyAuditChain, type KnownCheckpoint } from '../audit/chain.js';
import { CheckpointError, openCheckpoint } from '../audit/checkpointNote.js';
import { readCheckpointRecord, recordPath } from '../audit/checkpointRecord.js';
import { CLI_SOURCE } from '../audit/entries.js';
import { createOrganization } from '../auth/accounts.js';
import { CommandFailure } from '../commands/errors.js';
import type { AuditActor } from '../../src/lib/shared/entities.js';
import { runDemo } from './demo.js';
import { prepareStore } from '../prepareStore.js';
import { MasterKeyMismatch } from '../store/masterKeyCheck.js';
import { SchemaTooNew } from '../store/migrations/index.js';
import { transferOwnership, setOpenSource, createOperator } from './operator.js';

const USAGE = `signet — Signet's operator command line

  signet org create --slug SLUG --name NAME --owner-email EMAIL --owner-name NAME
                    [--owner-password PASSWORD] [--open-source]
  signet org transfer-ownership --org SLUG --to EMAIL
  signet org open-source --org SLUG (--on | --off)
  signet operator create --email EMAIL --name NAME
  signet demo [--json]
  signet audit verify --org SLUG [--checkpoint FILE]
  signet audit checkpoint --org SLUG > FILE

Uses REDIS_URL, or the primary the Sentinels in REDIS_SENTINELS name, or else the Redis of
SIGNET_DATA_DIR (default ./data), starting it if it is not running.
audit verify also checks the chain against the signed checkpoints this installation's nodes
recorded under SIGNET_AUDIT_CHECKPOINT_DIR (default SIGNET_DATA_DIR/audit-checkpoints), and with
--checkpoint against a checkpoint saved earlier by audit checkpoint (or the REST endpoint
/api/v1/orgs/ORG/audit/checkpoint): a log rolled back behind either fails with exit 1.`;

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
  const signet = createSignet(config, redis, createLogger('silent'));
  // The same checks as a node start: the installation's master key (a wrong one must not seal the
  // audit chain below), the data format (migrated once).
  await prepareStore(signet).catch(async (error: unknown) => {
    redis.disconnect();
    await local?.stop();
    throw error;
  });
  try {
    return await work(signet);
  } finally {
    // Seal what this run wrote, so the chain is whole even when no server is running.
    for (const orgId of await redis.smembers(signet.keys.auditUnsealed)) {
      await sealAuditChain(redis, signet.keys, signet.auditKey, orgId, config.publicUrl);
    }
    redis.disconnect();
    await local?.stop();
  }
}

function need(values: Record<string, unknown>, ...names: string[]): void {
  const missing = names.filter((name) => values[name] === undefined);
  if (missing.length) throw new CommandFailure('INVALID_INPUT', `missing ${missing.map((name) => `--${name}`).join(', ')}\n\n${USAGE}`);
}

async function orgIdOf(signet: Signet, slug: string): Promise<string> {
  const orgId = await signet.repos.orgIdBySlug(slug);
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

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      slug: { type: 'string' },
      name: { type: 'string' },
      'owner-email': { type: 'string' },
      'owner-name': { type: 'string' },
      'owner-password': { type: 'string' },
      'open-source': { type: 'boolean' },
      org: { type: 'string' },
      to: { type: 'string' },
      email: { type: 'string' },
      on: { type: 'boolean' },
      off: { type: 'boolean' },
      json: { type: 'boolean' },
      checkpoint: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals.join(' ');
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig();

  switch (command) {
    case 'org create': {
      need(values, 'slug', 'name', 'owner-email', 'owner-name');
      const created = await withSignet(config, (signet) =>
        createOrganization(
          signet,
          {
            orgSlug: values.slug!,
            orgName: values.name!,
            ownerEmail: values['owner-email']!,
            ownerName: values['owner-name']!,
            ownerPassword: values['owner-password'],
            openSource: values['open-source'] ?? false,
          },
          OPERATOR_ACTOR,
          CLI_SOURCE,
        ),
      );
      console.log(JSON.stringify({ org: created.org.slug, orgId: created.org.id, owner: created.owner.email, ownerSetupLink: created.ownerSetupLink }, null, 2));
      return 0;
    }
    case 'org transfer-ownership': {
      need(values, 'org', 'to');
      const result = await withSignet(config, async (signet) => transferOwnership(signet, await orgIdOf(signet, values.org!), values.to!, OPERATOR_ACTOR));
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    case 'org open-source': {
      need(values, 'org');
      if (values.on === values.off) throw new CommandFailure('INVALID_INPUT', 'give exactly one of --on or --off');
      const result = await withSignet(config, async (signet) => setOpenSource(signet, await orgIdOf(signet, values.org!), values.on === true, OPERATOR_ACTOR));
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    case 'operator create': {
      need(values, 'email', 'name');
      const result = await withSignet(config, (signet) => createOperator(signet, values.email!, values.name!));
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    case 'demo': {
      const demo = await withSignet(config, (signet) => runDemo(signet, OPERATOR_ACTOR));
      console.log(values.json ? JSON.stringify(demo) : JSON.stringify(demo, null, 2));
      return 0;
    }
    case 'audit verify': {
      need(values, 'org');
      const result = await withSignet(config, async (signet) => {
        const orgId = await orgIdOf(signet, values.org!);
        const known: KnownCheckpoint[] = [];
        if (values.checkpoint !== undefined) known.push(await savedCheckpoint(signet, orgId, values.checkpoint));
        const recorded = await readCheckpointRecord(config.auditCheckpointDir, config.SIGNET_REDIS_PREFIX, signet.auditKey.publicKey, orgId);
        const source = `the data directory's record (${recordPath(config.auditCheckpointDir, config.SIGNET_REDIS_PREFIX, orgId)})`;
        for (const { size, hash } of recorded) known.push({ size, hash, source });
        return verifyAuditChain(signet.redis, signet.keys, signet.auditKey.publicKey, orgId, known);
      });
      console.log(JSON.stringify(result, null, 2));
      return result.ok ? 0 : 1;
    }
    case 'audit checkpoint': {
      need(values, 'org');
      const note = await withSignet(config, async (signet) =>
        currentCheckpoint(signet.redis, signet.keys, signet.auditKey, config.publicUrl, await orgIdOf(signet, values.org!)),
      );
      if (!note) throw new CommandFailure('NOT_FOUND', `The audit log of "${values.org}" has no validly signed checkpoint`);
      process.stdout.write(note);
      return 0;
    }
    default:
      console.error(`Unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof ConfigError || error instanceof MasterKeyMismatch || error instanceof SchemaTooNew) console.error(error.message);
    else if (error instanceof CommandFailure) console.error(`${error.code}: ${error.message}`);
    else console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof ConfigError || error instanceof MasterKeyMismatch ? 78 : 1);
  },
);
