// The events a commit carries to live sockets (see commit.ts's PlannedEvent): who hears of them and
// how an entity change reads. Every writer builds them here: commands, the signing lifecycle,
// accounts and the CLI.
import type { EntityChange, EntityData, EntityName } from '../../src/lib/shared/events.js';
import type { Audience, PlannedEvent } from './commit.js';

/** Who hears about configuration entities: everyone who may read the configuration. */
export const CONFIG_READERS: Audience[] = ['p:config:read'];

/** Who hears about signing requests, and pre-approved windows (a grant is approval given ahead). */
export const REQUEST_READERS: Audience[] = ['p:signing:read'];

/** An entity-change event for the given audiences: created or updated with the entity as it is now, or deleted. */
export function changeEvent<E extends EntityName>(orgId: string, entity: E, op: 'created' | 'updated', id: string, data: EntityData<E>, audience: Audience[]): PlannedEvent;
export function changeEvent<E extends EntityName>(orgId: string, entity: E, op: 'deleted', id: string, data: undefined, audience: Audience[]): PlannedEvent;
export function changeEvent<E extends EntityName>(
  orgId: string,
  entity: E,
  op: EntityChange['op'],
  id: string,
  data: EntityData<E> | undefined,
  audience: Audience[],
): PlannedEvent {
  const version = (data as { version?: number } | undefined)?.version;
  const change = { entity, id, op, ...(data ? { data, ...(version === undefined ? {} : { version }) } : {}) } as EntityChange<E>;
  return { orgId, kind: 'change', audience, data: change };
}
