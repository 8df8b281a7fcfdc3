// Sockets being caught up (replayed what they missed, replay.ts) before they join their rooms. What
// the commit feed delivers to their organization meanwhile is kept for them, in order, so each gets
// every event once, in sequence, whatever commits meanwhile. The feed offers deliveries here, access
// (access.ts) sets the rooms a socket will join, the socket server starts and ends catch-ups.
import type { Socket } from 'socket.io';

/** One sequenced event as it goes to sockets. */
export interface Delivery {
  event: 'audit' | 'change' | 'notification';
  seq: number;
  payload: object;
  /** The rooms allowed to see it. */
  rooms: readonly string[];
}

export class CatchUp {
  /** The rooms the socket will join; null until its actor is known (then kept events are filtered). */
  rooms: ReadonlySet<string> | null = null;
  /** The organization's events the feed delivered since the catch-up began that the socket may see. */
  readonly kept: Delivery[] = [];
  /** The first of the organization's events the feed delivered since the catch-up began. */
  firstSeen: number | null = null;

  constructor(
    readonly socket: Socket,
    readonly orgId: string,
  ) {}

  /** Its rooms, from an actor read after everything kept so far was committed. */
  setRooms(rooms: ReadonlySet<string>): void {
    if (this.rooms === null) {
      const visible = this.kept.filter((delivery) => delivery.rooms.some((room) => rooms.has(room)));
      this.kept.splice(0, this.kept.length, ...visible);
    }
    this.rooms = rooms;
  }

  offer(delivery: Delivery): void {
    this.firstSeen ??= delivery.seq;
    const rooms = this.rooms;
    if (rooms === null || delivery.rooms.some((room) => rooms.has(room))) this.kept.push(delivery);
  }
}

/** This node's catch-ups in progress, by organization and by socket. */
export class CatchUps {
  private readonly byOrg = new Map<string, Set<CatchUp>>();
  private readonly bySocket = new Map<string, CatchUp>();

  /** Starts keeping the organization's deliveries for a socket being caught up. */
  start(socket: Socket, orgId: string): CatchUp {
    const catchUp = new CatchUp(socket, orgId);
    let catchUps = this.byOrg.get(orgId);
    if (!catchUps) this.byOrg.set(orgId, (catchUps = new Set()));
    catchUps.add(catchUp);
    this.bySocket.set(socket.id, catchUp);
    return catchUp;
  }

  end(catchUp: CatchUp): void {
    const catchUps = this.byOrg.get(catchUp.orgId);
    catchUps?.delete(catchUp);
    if (catchUps?.size === 0) this.byOrg.delete(catchUp.orgId);
    if (this.bySocket.get(catchUp.socket.id) === catchUp) this.bySocket.delete(catchUp.socket.id);
  }

  of(socketId: string): CatchUp | undefined {
    return this.bySocket.get(socketId);
  }

  /** Keeps a delivery for every socket of its organization being caught up. */
  offer(orgId: string, delivery: Delivery): void {
    const catchUps = this.byOrg.get(orgId);
    if (catchUps) for (const catchUp of catchUps) catchUp.offer(delivery);
  }
}
