// Socket.IO room names. A socket joins the rooms of what it may see; broadcasts go to rooms, so an
// event reaches only the sockets allowed to see it.
import { READ_PERMISSIONS, type Permission } from '../../src/lib/shared/permissions.js';
import type { Audience } from '../store/commit.js';

// Room names are interned: thousands of sockets in the same rooms share one string per room
// instead of building their own copy (that is memory per connection).
const interned = new Map<string, string>();
function intern(name: string): string {
  const known = interned.get(name);
  if (known !== undefined) return known;
  if (interned.size > 100_000) interned.clear();
  interned.set(name, name);
  return name;
}

export const orgRoom = (orgId: string) => intern(`o:${orgId}`);
export const permissionRoom = (orgId: string, permission: Permission) => intern(`o:${orgId}:p:${permission}`);
const userRoom = (orgId: string, userId: string) => intern(`o:${orgId}:u:${userId}`);

export function audienceRoom(orgId: string, audience: Audience): string {
  return audience === 'all' ? orgRoom(orgId) : `o:${orgId}:${audience}`;
}

/** The rooms a socket of this actor belongs in: its org, its read permissions, itself. */
export function roomsFor(orgId: string, userId: string, permissions: ReadonlySet<Permission>): Set<string> {
  const rooms = new Set([orgRoom(orgId), userRoom(orgId, userId)]);
  for (const permission of READ_PERMISSIONS) {
    if (permissions.has(permission)) rooms.add(permissionRoom(orgId, permission));
  }
  return rooms;
}

/**
 * The rooms of a live connection. An API key's socket does not join its owner's own room: the
 * owner's notifications and key changes are theirs, not every key's.
 */
export function roomsForActor(actor: { orgId: string; userId: string; permissions: ReadonlySet<Permission>; principal: { kind: string } }): Set<string> {
  const rooms = roomsFor(actor.orgId, actor.userId, actor.permissions);
  if (actor.principal.kind === 'apiKey') rooms.delete(userRoom(actor.orgId, actor.userId));
  return rooms;
}
