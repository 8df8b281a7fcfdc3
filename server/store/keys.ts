// Every Redis key Signet uses, in one place. The prefix lets several instances (or test files)
// share one Redis server without seeing each other.
export function redisKeys(prefix: string) {
  const k = (key: string) => `${prefix}${key}`;
  return {
    prefix,
    adapterChannel: k('socket.io'),
    rateLimit: k('ratelimit'),

    orgIds: k('orgs'),
    orgSlugs: k('orgs:bySlug'),
    org: (orgId: string) => k(`org:${orgId}`),
    orgMembers: (orgId: string) => k(`org:${orgId}:members`),
    member: (orgId: string, userId: string) => k(`org:${orgId}:member:${userId}`),
    orgInvites: (orgId: string) => k(`org:${orgId}:invites`),
    invite: (inviteId: string) => k(`invite:${inviteId}`),
    inviteToken: (tokenHash: string) => k(`invite:token:${tokenHash}`),
    orgApiKeys: (orgId: string) => k(`org:${orgId}:apikeys`),
    apiKey: (keyId: string) => k(`apikey:${keyId}`),
    apiKeyLastUsed: (keyId: string) => k(`apikey:${keyId}:lastUsed`),

    user: (userId: string) => k(`user:${userId}`),
    usersByEmail: k('users:byEmail'),
    userOrgs: (userId: string) => k(`user:${userId}:orgs`),
    session: (sessionHash: string) => k(`session:${sessionHash}`),
    userSessions: (userId: string) => k(`user:${userId}:sessions`),
    setupToken: k('instance:setupToken'),

    eventSeq: (orgId: string) => k(`org:${orgId}:seq`),
    events: (orgId: string) => k(`org:${orgId}:events`),
    auditSeq: (orgId: string) => k(`org:${orgId}:audit:seq`),
    audit: (orgId: string) => k(`org:${orgId}:audit`),
    auditSeals: (orgId: string) => k(`org:${orgId}:audit:seals`),
    auditHead: (orgId: string) => k(`org:${orgId}:audit:head`),
    auditCheckpoints: (orgId: string) => k(`org:${orgId}:audit:checkpoints`),
    auditUnsealed: k('audit:unsealed'),

    notifications: (orgId: string, userId: string) => k(`org:${orgId}:user:${userId}:notifications`),
    notificationOrder: (orgId: string, userId: string) => k(`org:${orgId}:user:${userId}:notifications:order`),
    notificationUnread: (orgId: string, userId: string) => k(`org:${orgId}:user:${userId}:notifications:unread`),
    notificationSettings: (orgId: string, userId: string) => k(`org:${orgId}:user:${userId}:notifications:settings`),

    presence: (orgId: string) => k(`org:${orgId}:presence`),
    nodeAlive: (nodeId: string) => k(`node:${nodeId}:alive`),
    orgKeyPattern: (orgId: string) => k(`org:${orgId}:*`),
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/** The organization id under which instance-level events (sign-ins of unknown accounts, operator actions) are audited. */
export const INSTANCE_ORG_ID = 'instance';
