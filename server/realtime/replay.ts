// Resuming: a client that reconnects with the last sequence number it saw receives exactly the
// events it missed and may see, in order, then `ready`, then the live ones: each once, none out of
// order, also while the organization keeps committing.
//
// While the socket is replayed from the organization's event stream it is in no room yet; the feed
// keeps what it delivers to the organization meanwhile (see CatchUp). Stream entries are sent only
// for what the feed had delivered before the catch-up began; from the first event the feed kept on,
// the kept copies are sent instead, then the socket joins its rooms, in one step: no event arrives
// twice, none is skipped, and none reaches it after a change of access the feed applied first.
import type { Socket } from 'socket.io';
import type { ReadyEvent } from '../../src/lib/shared/events.js';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../store/keys.js';
import type { Audience } from '../store/commit.js';
import type { CatchUp, CatchUps } from './catchUp.js';
import type { CommittedFeed } from './committedEvents.js';
import { audienceRoom } from './rooms.js';

const PAGE = 1000;

type StreamEntry = [id: string, fields: string[]];

function fieldsOf(fields: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  return record;
}

/** Sends one stream entry if the socket's rooms allow it; returns whether it was sent. */
function emitEntry(socket: Socket, orgId: string, seq: number, rawFields: string[], rooms: ReadonlySet<string>): boolean {
  const fields = fieldsOf(rawFields);
  const audiences = (fields.a ?? '').split(',') as Audience[];
  if (!audiences.some((audience) => rooms.has(audienceRoom(orgId, audience)))) return false;
  const data = JSON.parse(fields.d!);
  if (fields.k === 'audit') socket.emit('audit', { seq, entry: { ...data, seq: Number(fields.n) } });
  else if (fields.k === 'change') socket.emit('change', { seq, ...data });
  else if (fields.k === 'notification') socket.emit('notification', { seq, ...data });
  else return false;
  return true;
}

/**
 * Catches a socket up from `lastSeq` (null: a fresh connection, which loads its state itself and
 * needs only what commits from now on), then has it join its rooms. `catchUp` was started before
 * the socket's actor was read and holds its rooms. Returns the `ready` event, or null when the socket
 * went away meanwhile.
 */
export async function catchUpSocket(
  { redis, keys }: { redis: Redis; keys: RedisKeys },
  feed: CommittedFeed,
  catchUps: CatchUps,
  catchUp: CatchUp,
  lastSeq: number | null,
): Promise<ReadyEvent | null> {
  const { socket, orgId } = catchUp;
  if (catchUp.rooms === null) throw new Error('a socket is caught up once its rooms are known');
  const gone = () => !socket.connected;
  const currentSeq = async () => Number((await redis.get(keys.eventSeq(orgId))) ?? 0);
  let handled: number;
  /** A number known to be committed that `handled` does not exceed (null: unknown, as when a client claims one beyond the stream). */
  let committedThrough: number | null = null;
  let resumed = true;
  let replayed = 0;
  if (lastSeq === null) {
    handled = committedThrough = await currentSeq();
  } else {
    handled = lastSeq;
    let firstRead: number | null = null;
    pages: for (;;) {
      const entries = (await redis.xrange(keys.events(orgId), `${handled + 1}-0`, '+', 'COUNT', PAGE)) as StreamEntry[];
      if (gone()) return null;
      const lastInPage = entries.length ? Number(entries.at(-1)![0].split('-')[0]) : handled;
      for (const [id, rawFields] of entries) {
        const seq = Number(id.split('-')[0]);
        firstRead ??= seq;
        // From here on the feed kept what this socket may see.
        if (catchUp.firstSeen !== null && seq >= catchUp.firstSeen) break pages;
        if (seq > feed.deliveredThrough(orgId)) {
          // Read before the feed delivered it: wait until it has, so that a change of access
          // committed before it is applied to this socket's rooms first.
          await feed.reached(orgId, lastInPage);
          if (gone()) return null;
          if (catchUp.firstSeen !== null && seq >= catchUp.firstSeen) break pages;
        }
        if (emitEntry(socket, orgId, seq, rawFields, catchUp.rooms!)) replayed += 1;
        handled = seq;
      }
      if (entries.length < PAGE) break;
    }
    // The stream is capped: if the next event the client needs was trimmed, it must reload instead.
    resumed = firstRead === null || firstRead === lastSeq + 1;
    if (firstRead === null) {
      // A client ahead of the stream saw events the store no longer has (a Redis failover lost
      // writes it had not replicated): it must reload too, and continues from what is committed now.
      const current = await currentSeq();
      if (lastSeq > current) {
        resumed = false;
        handled = committedThrough = current;
      }
    }
    // Anything read was committed, and so was everything numbered below it.
    if (firstRead !== null) committedThrough = handled;
  }
  // Whatever was committed up to here must have gone through this node's feed before the socket
  // joins its rooms, or the feed would send it again.
  await feed.reached(orgId, committedThrough ?? Math.min(handled, await currentSeq()));
  if (gone()) return null;
  // In one step: what the feed kept, then the rooms; the feed's next delivery goes to the rooms.
  let sent = handled;
  for (const delivery of catchUp.kept) {
    if (delivery.seq <= sent) continue;
    socket.emit(delivery.event, delivery.payload as never);
    sent = delivery.seq;
    replayed += 1;
  }
  socket.join([...catchUp.rooms!]);
  catchUps.end(catchUp);
  return { seq: Math.max(sent, feed.deliveredThrough(orgId)), resumed, replayed };
}
