// Chat channels: a record per channel (its webhook URL sealed in it) and the set of a project's
// channels. Reads are scoped to an organization; what leaves the server is toChatChannel's.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { toChatChannel, type ChatChannelRecord } from './records.js';
import { changeEvent, CONFIG_READERS } from './events.js';
import { inOrg, parseLoaded, readMany, type Loaded, type WritePlan } from './plan.js';

export function chatChannelStore(redis: Redis, keys: RedisKeys) {
  return {
    async get(orgId: string, chatChannelId: string): Promise<Loaded<ChatChannelRecord> | null> {
      return inOrg(parseLoaded<ChatChannelRecord>(await redis.get(keys.chatChannel(chatChannelId))), orgId);
    },
    /** A project's channels (the project is the caller's to scope). */
    async ofProject(projectId: string): Promise<ChatChannelRecord[]> {
      return readMany<ChatChannelRecord>(redis, (await redis.smembers(keys.chatChannels(projectId))).map(keys.chatChannel));
    },
    create(record: ChatChannelRecord): WritePlan {
      return {
        expect: [],
        ops: [
          ['set', keys.chatChannel(record.id), JSON.stringify(record)],
          ['sadd', keys.chatChannels(record.projectId), record.id],
        ],
        events: [changeEvent(record.orgId, 'chatChannel', 'created', record.id, toChatChannel(record), CONFIG_READERS)],
      };
    },
    remove(stored: Loaded<ChatChannelRecord>): WritePlan {
      const channel = stored.value;
      return {
        expect: [{ key: keys.chatChannel(channel.id), equals: stored.raw }],
        ops: [
          ['del', keys.chatChannel(channel.id)],
          ['srem', keys.chatChannels(channel.projectId), channel.id],
        ],
        events: [changeEvent(channel.orgId, 'chatChannel', 'deleted', channel.id, undefined, CONFIG_READERS)],
      };
    },
    /** A removed project's channels (`channels`: as read) and its set of them. */
    removeWithProject(project: { id: string; orgId: string }, channels: ChatChannelRecord[]): WritePlan {
      return {
        expect: [],
        ops: [...channels.map((c) => ['del', keys.chatChannel(c.id)] as const), ['del', keys.chatChannels(project.id)]],
        events: channels.map((c) => changeEvent(project.orgId, 'chatChannel', 'deleted', c.id, undefined, CONFIG_READERS)),
      };
    },
  };
}

