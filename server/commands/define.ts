// A command is one declaration (the tRPC procedure shape): its name, permission, input and result
// in src/lib/shared/commands.ts, its handler here. The dispatcher reads the declaration: it checks
// the permission against the matrix, validates the input, and gives the handler a context whose
// `commit` always writes the audit entry with the change. The handler must return the declared result.
import { commandDeclarations, type CommandName, type CommandResult, type ParsedCommandInput } from '../../src/lib/shared/commands.js';
import type { EntityData, EntityName } from '../../src/lib/shared/events.js';
import type { Permission } from '../../src/lib/shared/permissions.js';
import type { PresenceEntry } from '../../src/lib/shared/events.js';
import type { Actor } from '../auth/actor.js';
import type { AuditWatch } from '../audit/rollbackWatch.js';
import type { Signet } from '../signet.js';
import type { Store } from '../store/store.js';
import type { Loaded, WritePlan } from '../store/plan.js';
import type { AccessScope, Committed } from '../store/commit.js';
import { type Change } from '../store/acting.js';
import { diffFields, type AuditSource } from '../audit/entries.js';
import { conflict, forbidden, invalid } from '../errors.js';

export type { Change } from '../store/acting.js';

/** What a command may ask of the node it runs on, beyond the store; a CLI run has neither. */
export interface NodeServices {
  /** This node's watch against a rolled-back audit log (audit/rollbackWatch.ts). */
  readonly auditWatch: Pick<AuditWatch, 'observe' | 'remembered'> | null;
  /** Who is online in an organization, and on which page (realtime/presence.ts). */
  readonly presence: {
    set(orgId: string, socketId: string, entry: PresenceEntry): Promise<void>;
    broadcast(orgId: string): Promise<PresenceEntry[]>;
  } | null;
}

/** A CLI run's: no node, so no audit watch and nobody online. */
export const NO_NODE_SERVICES: NodeServices = { auditWatch: null, presence: null };

export interface CommandContext {
  name: CommandName;
  signet: Signet;
  node: NodeServices;
  /** The store's per-entity modules: scoped reads and the plans of every write (store/entities.ts). */
  store: Store;
  actor: Actor;
  source: AuditSource;
  /** The live connection the command came over (absent for REST). */
  socketId?: string;
  /** Commits the change with its audit entry in one atomic write, then broadcasts it. */
  commit(change: Change): Promise<Committed>;
}

/**
 * How long a command that generates a key may take (RSA-4096 in software, or any key in a token, can
 * take seconds of CPU on a busy machine); every other command answers within SIGNET_COMMAND_DEADLINE_MS.
 */
export const KEY_GENERATION_DEADLINE_MS = 30_000;

export interface CommandHandler<N extends CommandName> {
  name: N;
  /** Longer than the configured command deadline, for a command whose work itself takes seconds (key generation). */
  deadlineMs?: number;
  handler: (context: CommandContext, input: ParsedCommandInput<N>) => Promise<CommandResult<N>>;
}

/** A handler with its command's declaration: what the dispatcher runs. */
export interface CommandDefinition<N extends CommandName = CommandName> extends CommandHandler<N> {
  input: (typeof commandDeclarations)[N]['input'];
  /** null: any member of the organization may run it (it only touches their own data). */
  permission: Permission | null;
}

/** The handler of a declared command; its permission and input come from the declaration. */
export function defineCommand<N extends CommandName>(command: CommandHandler<N>): CommandDefinition<N> {
  const declared = commandDeclarations[command.name];
  return { ...command, input: declared.input, permission: declared.permission };
}

export type AnyCommand = CommandDefinition<CommandName>;

export function createCommandContext(
  signet: Signet,
  node: NodeServices,
  name: CommandName,
  actor: Actor,
  source: AuditSource,
  socketId?: string,
): CommandContext {
  const acting = signet.acting({ orgId: actor.orgId, actor: actor.audit, source, action: name, socketId });
  return { name, socketId, signet, node, store: signet.store, actor, source, commit: acting.commit };
}

/** Refuses a URL the server may not send requests to (net/outbound.ts) as INVALID_INPUT on `field`, saying why. */
export async function assertOutboundUrl(signet: Signet, field: string, url: string): Promise<void> {
  await signet.outbound.checkUrl(url).catch((error: Error) => {
    throw invalid(field, error.message);
  });
}

/** Checks the version a client read against the stored one: a stale update gets CONFLICT with the current entity. */
export function assertVersion(entityName: string, expected: number, current: { version: number }, presented: unknown): void {
  if (expected !== current.version) {
    throw conflict(
      `${entityName} was changed by someone else (you edited version ${expected}, it is now ${current.version})`,
      presented,
    );
  }
}

/**
 * The support user acts with administrator rights only while support is authorized; it may not
 * create credentials (invitations, CI users, API keys) that would outlive that authorization.
 */
export function assertNotSupport(actor: Actor, what: string): void {
  if (actor.type === 'support') throw forbidden(`The support user cannot ${what}: that would outlast its access`);
}

/**
 * An update as the store planned it (`plan`: the record written over the version read, its indexes,
 * its event), audited with the fields that changed. Returns false, writing nothing, when nothing changed.
 */
export async function commitUpdate<E extends EntityName, T extends { id: string }>(
  context: CommandContext,
  update: {
    entity: E;
    stored: Loaded<T>;
    updated: T;
    name: string;
    plan: WritePlan;
    /** What leaves the server (needed when the stored record is not already the entity). */
    present?: (entity: T) => EntityData<E>;
    action?: string;
    access?: AccessScope[];
  },
): Promise<boolean> {
  const present = update.present ?? ((entity: T) => entity as unknown as EntityData<E>);
  const changes = diffFields(present(update.stored.value) as Record<string, unknown>, present(update.updated) as Record<string, unknown>);
  if (Object.keys(changes).length === 0) return false;
  await context.commit({ action: update.action, target: { type: update.entity, id: update.updated.id, name: update.name }, changes, ...update.plan, access: update.access });
  return true;
}

/** A removal as the store planned it, audited with what the entity was (`identity`: the fields that named it). */
export async function commitRemoval(
  context: CommandContext,
  removal: { entity: EntityName; id: string; name: string; identity: Record<string, unknown>; plan: WritePlan },
): Promise<{ deleted: string }> {
  await context.commit({
    target: { type: removal.entity, id: removal.id, name: removal.name },
    changes: Object.fromEntries(Object.entries(removal.identity).map(([field, value]) => [field, { before: value, after: null }])),
    ...removal.plan,
  });
  return { deleted: removal.id };
}
