// The modules of people and access: accounts, memberships, CI users, invitations, API keys,
// sessions and organizations. Built together because each plans the indexes of the others only
// through their module (a membership keeps its account's organizations through users, an
// organization's deletion drops its members, invitations and keys through theirs).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { userStore } from './users.js';
import { memberStore } from './members.js';
import { ciUserStore } from './ciUsers.js';
import { invitationStore } from './invitations.js';
import { apiKeyStore } from './apiKeys.js';
import { sessionStore } from './sessions.js';
import { organizationStore } from './organizations.js';

export function accountStores(redis: Redis, keys: RedisKeys) {
  const users = userStore(redis, keys);
  const members = memberStore(redis, keys, users);
  const invitations = invitationStore(redis, keys);
  const apiKeys = apiKeyStore(redis, keys, members);
  return {
    users,
    members,
    ciUsers: ciUserStore(users, members),
    invitations,
    apiKeys,
    sessions: sessionStore(redis, keys),
    organizations: organizationStore(redis, keys, { members, invitations, apiKeys }),
  };
}


export type AccountStores = ReturnType<typeof accountStores>;
