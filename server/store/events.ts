// The events a commit carries to live sockets (see commit.ts's PlannedEvent): who hears of them and
// how an entity change reads. Every writer builds them here: commands, the signing lifecycle,
// accounts and the CLI.
import type { Audience, PlannedEvent } from './commit.js';

/** Who hears about configuration entities: everyone who may read the configuration. */
export const CONFIG_READERS: Audience[] = ['p:config:read'];

/** An entity-change event for the given audiences. */
export function changeEvent(
  orgId: string,
  entity: string,
  op: 'created' | 'updated' | 'deleted',
  id: string,
  data: object | undefined,
  audience: Audience[],
): PlannedEvent {
  const version = (data as { version?: number } | undefined)?.version;
  return {
    orgId,
    kind: 'change',
    audience,
    data: { entity, id, op, ...(data ? { data, ...(version === undefined ? {} : { version }) } : {}) },
  };
}
