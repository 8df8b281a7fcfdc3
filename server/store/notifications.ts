// Notifications (SPEC §5): each member's inbox in an organization (the notifications by id, their
// order, the unread set) and their choices (a level per signing policy, and whether email is off).
// A notification is written by the same commit as the change that caused it and pushed live to
// its user only.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Notification, NotificationLevel } from '../../src/lib/shared/entities.js';
import type { RedisKeys } from './keys.js';
import type { PlannedEvent, WriteOp } from './commit.js';
import { changeEvent } from './events.js';
import type { WritePlan } from './plan.js';

export interface NotificationDraft {
  kind: string;
  title: string;
  body: string;
  link?: string | null;
  policyId?: string | null;
}

/** The writes and the live event that deliver one notification. */
function notificationWrites(
  keys: RedisKeys,
  orgId: string,
  userId: string,
  draft: NotificationDraft,
  unreadCountBefore: number,
): { ops: WriteOp[]; event: PlannedEvent; notification: Notification } {
  const notification: Notification = {
    id: randomUUID(),
    userId,
    orgId,
    kind: draft.kind,
    title: draft.title,
    body: draft.body,
    link: draft.link ?? null,
    policyId: draft.policyId ?? null,
    createdAt: new Date().toISOString(),
    readAt: null,
  };
  return {
    notification,
    ops: [
      ['hset', keys.notifications(orgId, userId), notification.id, JSON.stringify(notification)],
      ['zadd', keys.notificationOrder(orgId, userId), Date.now(), notification.id],
      ['sadd', keys.notificationUnread(orgId, userId), notification.id],
    ],
    event: {
      orgId,
      kind: 'notification',
      audience: [`u:${userId}`],
      data: { notification, unreadCount: unreadCountBefore + 1 },
    },
  };
}

/** A change of someone's choices: levels per policy ('default' resets one) and, if it changes, email on or off. */
export interface SettingsChange {
  set: Array<{ policyId: string; level: NotificationLevel }>;
  email?: boolean;
  /** The levels once changed, and email: what the user's other tabs and devices follow. */
  after: { policies: Record<string, NotificationLevel>; email: boolean };
}

export function notificationStore(redis: Redis, keys: RedisKeys) {
  return {
    /** A member's inbox, newest first, and how many are unread. */
    async list(orgId: string, userId: string, limit: number, unreadOnly: boolean) {
      const unreadIds = new Set(await redis.smembers(keys.notificationUnread(orgId, userId)));
      const ids = unreadOnly
        ? (await redis.zrevrange(keys.notificationOrder(orgId, userId), 0, -1)).filter((id) => unreadIds.has(id)).slice(0, limit)
        : await redis.zrevrange(keys.notificationOrder(orgId, userId), 0, limit - 1);
      const raws = ids.length ? await redis.hmget(keys.notifications(orgId, userId), ...ids) : [];
      const items = raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as Notification);
      return { items, unreadCount: unreadIds.size };
    },
    async unreadIds(orgId: string, userId: string): Promise<string[]> {
      return redis.smembers(keys.notificationUnread(orgId, userId));
    },
    /** How many unread notifications each of these members has (in their order). */
    async unreadCounts(orgId: string, userIds: string[]): Promise<number[]> {
      if (userIds.length === 0) return [];
      const counts = await redis.pipeline(userIds.map((userId) => ['scard', keys.notificationUnread(orgId, userId)])).exec();
      return userIds.map((_, i) => Number(counts?.[i]?.[1] ?? 0));
    },
    /** The member's notifications of these ids, null where there is none. */
    async byIds(orgId: string, userId: string, ids: string[]): Promise<Array<Notification | null>> {
      if (ids.length === 0) return [];
      const raws = await redis.hmget(keys.notifications(orgId, userId), ...ids);
      return raws.map((raw) => (raw === null ? null : (JSON.parse(raw) as Notification)));
    },
    /** A member's level per signing policy (policies at the default level are absent). */
    async settings(orgId: string, userId: string): Promise<Record<string, NotificationLevel>> {
      return (await redis.hgetall(keys.notificationSettings(orgId, userId))) as Record<string, NotificationLevel>;
    },
    /** Each member's level for one policy ('default' unless they chose another). */
    async levels(orgId: string, userIds: string[], policyId: string): Promise<Map<string, NotificationLevel>> {
      if (userIds.length === 0) return new Map();
      const levels = await redis.pipeline(userIds.map((userId) => ['hget', keys.notificationSettings(orgId, userId), policyId])).exec();
      return new Map(userIds.map((userId, i) => [userId, ((levels?.[i]?.[1] as string | null) ?? 'default') as NotificationLevel]));
    },
    /** The members of an organization who turned email notifications off. */
    async emailOff(orgId: string): Promise<Set<string>> {
      return new Set(await redis.smembers(keys.notificationEmailOff(orgId)));
    },
    /** One notification for a member, with its live event; `unreadCountBefore` as read before the commit. */
    deliver(orgId: string, userId: string, draft: NotificationDraft, unreadCountBefore: number): WritePlan {
      const writes = notificationWrites(keys, orgId, userId, draft, unreadCountBefore);
      return { expect: [], ops: writes.ops, events: [writes.event] };
    },
    /** Marks these notifications (as read) read; the member's tabs hear which and how many stay unread. */
    markRead(orgId: string, userId: string, read: Notification[], readIds: string[], unreadCount: number, readAt: string): WritePlan {
      return {
        expect: [],
        ops: read.flatMap((notification): WriteOp[] => [
          ['hset', keys.notifications(orgId, userId), notification.id, JSON.stringify({ ...notification, readAt })],
          ['srem', keys.notificationUnread(orgId, userId), notification.id],
        ]),
        events: [changeEvent(orgId, 'notificationInbox', 'updated', userId, { readIds, unreadCount }, [`u:${userId}`])],
      };
    },
    changeSettings(orgId: string, userId: string, change: SettingsChange): WritePlan {
      const ops: WriteOp[] = change.set.map(({ policyId, level }) =>
        level === 'default' ? ['hdel', keys.notificationSettings(orgId, userId), policyId] : ['hset', keys.notificationSettings(orgId, userId), policyId, level],
      );
      if (change.email !== undefined) {
        ops.push(change.email ? ['srem', keys.notificationEmailOff(orgId), userId] : ['sadd', keys.notificationEmailOff(orgId), userId]);
      }
      return {
        expect: [],
        ops,
        events: [changeEvent(orgId, 'notificationSettings', 'updated', userId, change.after, [`u:${userId}`])],
      };
    },
  };
}

