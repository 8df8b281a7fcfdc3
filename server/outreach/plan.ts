// The one way a change tells people and places about itself: every channel at once. A caller
// plans the outreach before its commit, adds `ops` and `events` to that commit (the inbox
// notifications and the deliveries it owes are written with the change, or not at all), and calls
// `afterCommit()` once it committed, which queues the deliveries without holding up the caller.
//
//   people  → their inbox (live), and email unless they turned email off (SMTP configured)
//   chat    → the project's chat channels (Slack, Teams, Mattermost)
//   webhooks→ the project's webhooks subscribed to a request's new status
//   mail    → mail to someone outside the inbox (an invitation)
import type { Signet } from '../signet.js';
import type { Config } from '../config.js';
import type { MemberRecord, RequestRecord } from '../store/records.js';
import type { PlannedEvent, WriteOp } from '../store/commit.js';
import type { NotificationDraft } from '../store/notifications.js';
import type { Delivery, MailDelivery } from './deliveries.js';
import { mailDelivery, type Fact, type MailMessage } from './mail.js';
import { chatBody, type ChatMessage } from './chat.js';
import { webhookDeliveries } from './webhooks.js';

/** How long a caller waits for its deliveries to be queued before it moves on (the reconciler queues what is left). */
const QUEUEING_WAIT_MS = 1000;

export interface OutreachPlan {
  orgId: string;
  /** Members told in their inbox, and by email unless they turned it off. */
  people?: OutreachPerson[];
  /** Facts about the subject (a request's project, policy, artifact…), shown in mail beside each note. */
  facts?: Fact[];
  /** One message for each of a project's chat channels; `key` names the occasion (once per channel). */
  chat?: { projectId: string; key: string; message: ChatMessage };
  /** The request whose new status the project's subscribed webhooks hear about. */
  webhooksFor?: RequestRecord;
  /** Mail to addresses outside the inbox (see mailDelivery). */
  mail?: MailDelivery[];
}

export interface OutreachPerson {
  member: MemberRecord;
  note: NotificationDraft;
  /** Mailed even to someone who turned email off (a break-glass, an escalation addressed to them). */
  urgent?: boolean;
  /** The console's inbox only, live: a nudge to someone online now. */
  inboxOnly?: boolean;
}

export interface Outreach {
  ops: WriteOp[];
  events: PlannedEvent[];
  deliveries: Delivery[];
  /** Queues the deliveries once the commit holding `ops` succeeded; bounded, never throws. */
  afterCommit(): Promise<void>;
}

export function emailConfigured(config: Config): boolean {
  return Boolean(config.SIGNET_SMTP_URL && config.SIGNET_MAIL_FROM);
}

export async function planOutreach(signet: Signet, plan: OutreachPlan): Promise<Outreach> {
  const { config, store } = signet;
  const { orgId } = plan;
  const ops: WriteOp[] = [];
  const events: PlannedEvent[] = [];
  const deliveries: Delivery[] = [];

  const people = plan.people ?? [];
  if (people.length) {
    const unread = await store.notifications.unreadCounts(orgId, people.map(({ member }) => member.userId));
    people.forEach(({ member, note }, i) => {
      const delivered = store.notifications.deliver(orgId, member.userId, note, unread[i]!);
      ops.push(...delivered.ops);
      events.push(...delivered.events);
    });
    if (emailConfigured(config)) {
      const [emailOff, org] = await Promise.all([store.notifications.emailOff(orgId), store.organizations.get(orgId)]);
      const orgName = org?.value.name ?? orgId;
      for (const { member, note, urgent, inboxOnly } of people) {
        if (member.kind !== 'user' || inboxOnly || (emailOff.has(member.userId) && !urgent)) continue;
        deliveries.push(mailDelivery(config, orgId, member.email, noteMail(config, orgName, note, plan.facts ?? [])));
      }
    }
  }
  if (plan.chat) {
    const { projectId, key, message } = plan.chat;
    for (const channel of await store.chatChannels.ofProject(projectId)) {
      deliveries.push({ channel: 'chat', id: `chat-${channel.id}-${key}`, orgId, chatChannelId: channel.id, body: chatBody(channel.service, message) });
    }
  }
  if (plan.webhooksFor) deliveries.push(...(await webhookDeliveries(signet, plan.webhooksFor)));
  deliveries.push(...(plan.mail ?? []));
  ops.push(...store.outbox.owe(deliveries).ops);
  return { ops, events, deliveries, afterCommit: () => queueAfterCommit(signet, deliveries) };
}

/** An inbox notification as a mail: the same words, the facts, a link into the console, and why it came. */
function noteMail(config: Config, orgName: string, note: NotificationDraft, facts: Fact[]): MailMessage {
  const site = config.publicUrl;
  return {
    subject: `[${orgName}] ${note.title}`,
    heading: note.title,
    text: note.body,
    facts,
    action: { label: 'Open in Signet', url: `${site}${note.link ?? '/notifications'}` },
    footer: [
      `You get this as a member of ${orgName} in Signet (${site}).`,
      `Choose what you hear about per signing policy at ${site}/notifications; turn email off at ${site}/settings.`,
    ],
  };
}

async function queueAfterCommit(signet: Signet, deliveries: Delivery[]): Promise<void> {
  const sender = signet.outreach;
  if (deliveries.length === 0 || !sender) return;
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, QUEUEING_WAIT_MS)));
  await Promise.race([sender.send(deliveries), waited])
    .catch((error) => signet.logger.warn({ err: error, deliveries: deliveries.length }, 'queueing deliveries after commit failed; the reconciler will retry'))
    .finally(() => clearTimeout(timer));
}
