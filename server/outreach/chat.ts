// Chat messages to a project's channels through their incoming webhooks, each in its service's
// documented format: Slack (a fallback `text` plus Block Kit `blocks`), Microsoft Teams (an Adaptive
// Card in a message attachment, which the Workflows-based webhooks take too) and Mattermost (`text`
// plus Slack-style `attachments`). Messages link into the console; nobody decides in chat, where the
// console's sign-in rules (second factor, step-up, session revocation) could not be enforced.
import type { ChatService } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import { openPrivateKey } from '../store/keyVault.js';
import type { ChatDelivery } from './deliveries.js';
import type { Fact } from './mail.js';
import { postJson } from './webhooks.js';

export type ChatTone = 'attention' | 'good' | 'bad' | 'neutral';

export interface ChatMessage {
  title: string;
  text: string;
  facts: Fact[];
  link: { label: string; url: string };
  tone: ChatTone;
}

const DECIDED_IN_CONSOLE = 'Approvals and denials are made in the Signet console.';
/** Slack allows at most 10 fields per section and 2,000 characters per field. */
const MAX_FACTS = 10;
const MAX_VALUE = 300;

const clip = (text: string, max = MAX_VALUE) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Slack's mrkdwn treats &, < and > as markup (`<!channel>` would ping everyone). */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Mattermost renders Markdown and @mentions: user text is shown as written and pings nobody. */
function markdownEscape(text: string): string {
  return text.replace(/[\\`*_~[\]()<>#|]/g, (c) => `\\${c}`).replace(/@/g, '@\u200b');
}

function slack(message: ChatMessage): object {
  const link = message.link.url;
  const blocks: object[] = [
    { type: 'section', text: { type: 'mrkdwn', text: clip(`*<${link}|${slackEscape(message.title)}>*\n${slackEscape(message.text)}`, 3000) } },
  ];
  if (message.facts.length) {
    blocks.push({
      type: 'section',
      fields: message.facts.slice(0, MAX_FACTS).map((fact) => ({ type: 'mrkdwn', text: `*${slackEscape(fact.label)}*\n${slackEscape(clip(fact.value))}` })),
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${link}|${slackEscape(message.link.label)}> · ${DECIDED_IN_CONSOLE}` }] });
  // `text` is what notifications and clients without blocks show.
  return { text: slackEscape(`${message.title}: ${link}`), blocks };
}

const TEAMS_COLOR: Record<ChatTone, string> = { attention: 'Warning', good: 'Good', bad: 'Attention', neutral: 'Default' };

function teams(message: ChatMessage): object {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.2',
          body: [
            { type: 'TextBlock', text: message.title, weight: 'Bolder', size: 'Medium', wrap: true, color: TEAMS_COLOR[message.tone] },
            { type: 'TextBlock', text: message.text, wrap: true },
            ...(message.facts.length ? [{ type: 'FactSet', facts: message.facts.slice(0, MAX_FACTS).map((fact) => ({ title: fact.label, value: clip(fact.value) })) }] : []),
            { type: 'TextBlock', text: DECIDED_IN_CONSOLE, wrap: true, isSubtle: true, size: 'Small' },
          ],
          actions: [{ type: 'Action.OpenUrl', title: message.link.label, url: message.link.url }],
        },
      },
    ],
  };
}

const MATTERMOST_COLOR: Record<ChatTone, string> = { attention: '#d29922', good: '#1a7f37', bad: '#cf222e', neutral: '#6e7781' };

function mattermost(message: ChatMessage): object {
  return {
    text: markdownEscape(message.text),
    attachments: [
      {
        fallback: `${message.title}: ${message.link.url}`,
        color: MATTERMOST_COLOR[message.tone],
        title: message.title,
        title_link: message.link.url,
        fields: message.facts.slice(0, MAX_FACTS).map((fact) => ({ short: true, title: fact.label, value: markdownEscape(clip(fact.value)) })),
        footer: DECIDED_IN_CONSOLE,
      },
    ],
  };
}

const FORMATS: Record<ChatService, (message: ChatMessage) => object> = { slack, teams, mattermost };

/** The JSON body to POST to a channel's incoming webhook. */
export function chatBody(service: ChatService, message: ChatMessage): string {
  return JSON.stringify(FORMATS[service](message));
}

/**
 * What may be shown of an incoming-webhook URL (whoever has the URL may post): its origin and the
 * last four characters, e.g. `https://hooks.slack.com/…x7Qz`.
 */
export function urlHint(url: string): string {
  const parsed = new URL(url);
  const rest = `${parsed.pathname}${parsed.search}`;
  return rest.length > 8 ? `${parsed.origin}/…${rest.slice(-4)}` : `${parsed.origin}/…`;
}

/** POSTs one message to a channel; throws (and so is retried) on failure. A deleted channel gets nothing. */
export async function deliverChat(signet: Signet, delivery: ChatDelivery): Promise<void> {
  const stored = await signet.store.chatChannels.get(delivery.orgId, delivery.chatChannelId);
  if (!stored) return;
  const url = openPrivateKey(signet.config.masterKey, stored.value.sealedUrl, chatUrlContext(stored.value.id)).toString('utf8');
  await postJson(signet, url, delivery.body, {
    headers: { 'user-agent': 'Signet-Chat/1' },
    what: `${stored.value.service} message`,
    log: { orgId: delivery.orgId, chatChannelId: delivery.chatChannelId },
  });
}

/** The key-vault context a channel's URL is sealed under, so a sealed URL copied onto another channel does not open. */
export function chatUrlContext(chatChannelId: string): string {
  return `chatChannel:${chatChannelId}`;
}
