// What a store module returns for a create, update or remove: the preconditions the commit checks,
// the writes (the record and every index that points at it) and the events that announce it. A
// writer adds what it audits and commits the whole through its acting context (acting.ts).
import type { Redis } from 'ioredis';
import type { PlannedEvent, Precondition, WriteOp } from './commit.js';

export interface WritePlan {
  expect: Precondition[];
  ops: WriteOp[];
  events: PlannedEvent[];
}

/** Several plans committed as one (a project removed with its webhooks). */
export function combinePlans(...plans: WritePlan[]): WritePlan {
  return {
    expect: plans.flatMap((plan) => plan.expect),
    ops: plans.flatMap((plan) => plan.ops),
    events: plans.flatMap((plan) => plan.events),
  };
}

/** A stored record as read, with the raw text a later commit names as its precondition. */
export interface Loaded<T> {
  value: T;
  raw: string;
}

export function parseLoaded<T>(raw: string | null): Loaded<T> | null {
  return raw === null ? null : { value: JSON.parse(raw) as T, raw };
}

/** The record only if it belongs to `orgId`: another organization's id reads as absent (NOT_FOUND by construction). */
export function inOrg<T extends { orgId: string }>(loaded: Loaded<T> | null, orgId: string): Loaded<T> | null {
  return loaded && loaded.value.orgId === orgId ? loaded : null;
}

/** The records stored under these keys, parsed; keys with nothing stored are left out. */
export async function readMany<T>(redis: Redis, keys: string[]): Promise<T[]> {
  if (keys.length === 0) return [];
  const raws = await redis.mget(...keys);
  return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as T);
}

/** A record written over the version read (the commit refuses if it changed meanwhile), with the events that announce it. */
export function overwrite(key: string, stored: Loaded<unknown>, updated: unknown, events: PlannedEvent[] = []): WritePlan {
  return { expect: [{ key, equals: stored.raw }], ops: [['set', key, JSON.stringify(updated)]], events };
}
