// Resuming: a client that reconnects with the last sequence number it saw receives exactly the
// events it missed and may see, in order, before the `ready` event.
import type { Socket } from 'socket.io';
import type { ReadyEvent } from '../../src/lib/shared/events.js';
import type { Signet } from '../signet.js';
import type { Audience } from '../store/commit.js';
import { audienceRoom } from './rooms.js';

const PAGE = 1000;

type StreamEntry = [id: string, fields: string[]];

function fieldsOf(fields: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  return record;
}

/** Emits the events after `fromSeq` up to now; returns the last seq emitted or seen. */
async function emitRange(
  signet: Signet,
  socket: Socket,
  orgId: string,
  fromSeq: number,
  rooms: ReadonlySet<string>,
): Promise<{ lastSeq: number; emitted: number; firstSeq: number | null }> {
  let cursor = `${fromSeq + 1}-0`;
  let lastSeq = fromSeq;
  let emitted = 0;
  let firstSeq: number | null = null;
  for (;;) {
    const entries = (await signet.redis.xrange(signet.keys.events(orgId), cursor, '+', 'COUNT', PAGE)) as StreamEntry[];
    for (const [id, rawFields] of entries) {
      const seq = Number(id.split('-')[0]);
      firstSeq ??= seq;
      lastSeq = seq;
      const fields = fieldsOf(rawFields);
      const audiences = (fields.a ?? '').split(',') as Audience[];
      if (!audiences.some((audience) => rooms.has(audienceRoom(orgId, audience)))) continue;
      const data = JSON.parse(fields.d!);
      if (fields.k === 'audit') socket.emit('audit', { seq, entry: { ...data, seq: Number(fields.n) } });
      else if (fields.k === 'change') socket.emit('change', { seq, ...data });
      else if (fields.k === 'notification') socket.emit('notification', { seq, ...data });
      emitted += 1;
    }
    if (entries.length < PAGE) return { lastSeq, emitted, firstSeq };
    cursor = `${lastSeq + 1}-0`;
  }
}

/**
 * Replays in two passes around joining the rooms: the first catches up without live events
 * interleaving, the second covers what committed while the first ran. An event that commits
 * between the join and the second read may arrive twice; clients drop seqs they have seen.
 */
export async function replayMissedEvents(
  signet: Signet,
  socket: Socket,
  orgId: string,
  lastSeq: number | null,
  rooms: ReadonlySet<string>,
  joinRooms: () => void | Promise<void>,
): Promise<ReadyEvent> {
  if (lastSeq === null) {
    await joinRooms();
    const seq = Number((await signet.redis.get(signet.keys.eventSeq(orgId))) ?? 0);
    return { seq, resumed: true, replayed: 0 };
  }
  const first = await emitRange(signet, socket, orgId, lastSeq, rooms);
  // The stream is capped: if the next event the client needs was trimmed, it must reload instead.
  const resumed = first.firstSeq === null || first.firstSeq === lastSeq + 1;
  await joinRooms();
  const second = await emitRange(signet, socket, orgId, first.lastSeq, rooms);
  const seq = Math.max(second.lastSeq, Number((await signet.redis.get(signet.keys.eventSeq(orgId))) ?? 0));
  return { seq, resumed, replayed: first.emitted + second.emitted };
}
