// notification.list, notification.markRead, notification.settings: each user's own inbox.
import type { Notification, NotificationLevel } from '../../src/lib/shared/entities.js';
import type { WriteOp } from '../store/commit.js';
import type { AuditChanges } from '../audit/entries.js';
import { emailConfigured } from '../outreach/plan.js';
import { defineCommand } from './define.js';
import { changeEvent } from '../store/events.js';
import { invalid, notFound } from '../errors.js';

export const listNotifications = defineCommand({
  name: 'notification.list',
  async handler({ actor, repos }, input) {
    return repos.notifications(actor.orgId, actor.userId, input.limit ?? 50, input.unreadOnly);
  },
});

export const markNotificationsRead = defineCommand({
  name: 'notification.markRead',
  async handler({ actor, repos, commit }, input) {
    const { keys, redis } = repos;
    const unread = await redis.smembers(keys.notificationUnread(actor.orgId, actor.userId));
    let ids: string[];
    if ('all' in input) {
      ids = unread;
    } else {
      const exists = await redis.hmget(keys.notifications(actor.orgId, actor.userId), ...input.ids);
      const missing = input.ids.find((_, i) => exists[i] === null);
      if (missing) throw notFound(`Notification ${missing}`);
      ids = input.ids.filter((id) => unread.includes(id));
    }
    if (ids.length === 0) return { marked: 0, unreadCount: unread.length };
    const raws = await redis.hmget(keys.notifications(actor.orgId, actor.userId), ...ids);
    const readAt = new Date().toISOString();
    const ops: WriteOp[] = [];
    for (const raw of raws) {
      if (!raw) continue;
      const notification = { ...(JSON.parse(raw) as Notification), readAt };
      ops.push(
        ['hset', keys.notifications(actor.orgId, actor.userId), notification.id, JSON.stringify(notification)],
        ['srem', keys.notificationUnread(actor.orgId, actor.userId), notification.id],
      );
    }
    const unreadCount = unread.length - ids.length;
    await commit({
      target: { type: 'notifications', id: actor.userId, name: actor.name },
      changes: { unread: { before: unread.length, after: unreadCount } },
      ops,
      events: [changeEvent(actor.orgId, 'notificationInbox', 'updated', actor.userId, { readIds: ids, unreadCount }, [`u:${actor.userId}`])],
    });
    return { marked: ids.length, unreadCount };
  },
});

export const notificationSettings = defineCommand({
  name: 'notification.settings',
  async handler({ actor, repos, commit, signet }, input) {
    const { keys } = repos;
    const [before, emailOff] = await Promise.all([repos.notificationSettings(actor.orgId, actor.userId), repos.emailOff(actor.orgId)]);
    const emailBefore = !emailOff.has(actor.userId);
    const settings = (policies: Record<string, NotificationLevel>, email: boolean) => ({
      defaultLevel: 'default' as const,
      policies,
      email,
      /** Whether this installation sends email at all (SIGNET_SMTP_URL). */
      emailConfigured: emailConfigured(signet.config),
    });
    const set = input.set ?? [];
    const emailAfter = input.email ?? emailBefore;
    if (set.length === 0 && emailAfter === emailBefore) return settings(before, emailBefore);
    // A level for a policy of this organization, or the reset of one set earlier (its policy may be gone since).
    for (const [index, { policyId }] of set.entries()) {
      if (Object.hasOwn(before, policyId)) continue;
      const policy = await repos.policy(policyId);
      if (!policy || policy.value.orgId !== actor.orgId) throw invalid(`set.${index}.policyId`, `no signing policy ${policyId} in this organization`);
    }

    const ops: WriteOp[] = set.map(({ policyId, level }) =>
      level === 'default'
        ? ['hdel', keys.notificationSettings(actor.orgId, actor.userId), policyId]
        : ['hset', keys.notificationSettings(actor.orgId, actor.userId), policyId, level],
    );
    const changes: AuditChanges = Object.fromEntries(
      set.map(({ policyId, level }) => [`policy:${policyId}`, { before: before[policyId] ?? 'default', after: level }]),
    );
    if (emailAfter !== emailBefore) {
      ops.push(emailAfter ? ['srem', keys.notificationEmailOff(actor.orgId), actor.userId] : ['sadd', keys.notificationEmailOff(actor.orgId), actor.userId]);
      changes.email = { before: emailBefore, after: emailAfter };
    }
    const after = { ...before };
    for (const { policyId, level } of set) {
      if (level === 'default') delete after[policyId];
      else after[policyId] = level;
    }
    await commit({
      target: { type: 'notificationSettings', id: actor.userId, name: actor.name },
      changes,
      ops,
      // The user's other tabs and devices follow.
      events: [changeEvent(actor.orgId, 'notificationSettings', 'updated', actor.userId, { policies: after, email: emailAfter }, [`u:${actor.userId}`])],
    });
    return settings(after, emailAfter);
  },
});
