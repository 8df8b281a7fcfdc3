// Notifications (SPEC §5): kept per user in an inbox and pushed live to that user only. A
// notification is written by the same commit as the change that caused it.
import { randomUUID } from 'node:crypto';
import type { Notification } from '../src/lib/shared/entities.js';
import type { RedisKeys } from './store/keys.js';
import type { PlannedEvent, WriteOp } from './store/commit.js';

export interface NotificationDraft {
  kind: string;
  title: string;
  body: string;
  link?: string | null;
  policyId?: string | null;
}

/** The writes and the live event that deliver one notification. */
export function notificationWrites(
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
