// notification.list, notification.markRead, notification.settings: each user's own inbox.
import type { NotificationLevel } from '../../src/lib/shared/entities.js';
import type { AuditChanges } from '../audit/entries.js';
import { emailConfigured } from '../outreach/plan.js';
import { defineCommand } from './define.js';
import { invalid, notFound } from '../errors.js';

export const listNotifications = defineCommand({
  name: 'notification.list',
  async handler({ actor, store }, input) {
    return store.notifications.list(actor.orgId, actor.userId, input.limit ?? 50, input.unreadOnly);
  },
});

export const markNotificationsRead = defineCommand({
  name: 'notification.markRead',
  async handler({ actor, store, commit }, input) {
    const inbox = store.notifications;
    const unread = await inbox.unreadIds(actor.orgId, actor.userId);
    let ids: string[];
    if ('all' in input) {
      ids = unread;
    } else {
      const exists = await inbox.byIds(actor.orgId, actor.userId, input.ids);
      const missing = input.ids.find((_, i) => exists[i] === null);
      if (missing) throw notFound(`Notification ${missing}`);
      ids = input.ids.filter((id) => unread.includes(id));
    }
    if (ids.length === 0) return { marked: 0, unreadCount: unread.length };
    const read = (await inbox.byIds(actor.orgId, actor.userId, ids)).filter((notification) => notification !== null);
    const unreadCount = unread.length - ids.length;
    await commit({
      target: { type: 'notifications', id: actor.userId, name: actor.name },
      changes: { unread: { before: unread.length, after: unreadCount } },
      ...inbox.markRead(actor.orgId, actor.userId, read, ids, unreadCount, new Date().toISOString()),
    });
    return { marked: ids.length, unreadCount };
  },
});

export const notificationSettings = defineCommand({
  name: 'notification.settings',
  async handler({ actor, store, commit, signet }, input) {
    const [before, emailOff] = await Promise.all([store.notifications.settings(actor.orgId, actor.userId), store.notifications.emailOff(actor.orgId)]);
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
      const policy = await store.policies.get(actor.orgId, policyId);
      if (!policy) throw invalid(`set.${index}.policyId`, `no signing policy ${policyId} in this organization`);
    }

    const changes: AuditChanges = Object.fromEntries(
      set.map(({ policyId, level }) => [`policy:${policyId}`, { before: before[policyId] ?? 'default', after: level }]),
    );
    if (emailAfter !== emailBefore) changes.email = { before: emailBefore, after: emailAfter };
    const after = { ...before };
    for (const { policyId, level } of set) {
      if (level === 'default') delete after[policyId];
      else after[policyId] = level;
    }
    await commit({
      target: { type: 'notificationSettings', id: actor.userId, name: actor.name },
      changes,
      // The user's other tabs and devices follow (the plan's event).
      ...store.notifications.changeSettings(actor.orgId, actor.userId, {
        set,
        email: emailAfter === emailBefore ? undefined : emailAfter,
        after: { policies: after, email: emailAfter },
      }),
    });
    return settings(after, emailAfter);
  },
});
