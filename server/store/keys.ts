// Every Redis key Signet uses, in one place. The prefix lets several instances (or test files)
// share one Redis server without seeing each other.
export function redisKeys(prefix: string) {
  const k = (key: string) => `${prefix}${key}`;
  return {
    prefix,
    adapterChannel: k('socket.io'),
    /** Where the commit script publishes what it committed, for every node to deliver to its sockets. */
    committedChannel: k('committed'),
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
    /** The user's open sockets on every node (socket id → node id), for the per-user cap. */
    userSockets: (userId: string) => k(`user:${userId}:presence:sockets`),
    setupToken: k('instance:setupToken'),
    /** An HMAC under a key derived from the master key: nodes with another master key refuse to start. */
    masterKeyCheck: k('instance:masterKeyCheck'),
    /** The data-format version of everything under this prefix, and the lock of whoever migrates it. */
    schemaVersion: k('schema:version'),
    schemaLock: k('schema:lock'),

    eventSeq: (orgId: string) => k(`org:${orgId}:seq`),
    events: (orgId: string) => k(`org:${orgId}:events`),
    auditSeq: (orgId: string) => k(`org:${orgId}:audit:seq`),
    audit: (orgId: string) => k(`org:${orgId}:audit`),
    auditByTarget: (orgId: string, targetId: string) => k(`org:${orgId}:audit:target:${targetId}`),
    auditSeals: (orgId: string) => k(`org:${orgId}:audit:seals`),
    auditHead: (orgId: string) => k(`org:${orgId}:audit:head`),
    auditCheckpoints: (orgId: string) => k(`org:${orgId}:audit:checkpoints`),
    /** The remembered checkpoint a rollback alarm was last sent for (so nodes notify once). */
    auditRollbackAlarm: (orgId: string) => k(`org:${orgId}:audit:rollbackAlarm`),
    auditUnsealed: k('audit:unsealed'),

    notifications: (orgId: string, userId: string) => k(`org:${orgId}:user:${userId}:notifications`),
    notificationOrder: (orgId: string, userId: string) => k(`org:${orgId}:user:${userId}:notifications:order`),
    notificationUnread: (orgId: string, userId: string) => k(`org:${orgId}:user:${userId}:notifications:unread`),
    notificationSettings: (orgId: string, userId: string) => k(`org:${orgId}:user:${userId}:notifications:settings`),
    /** Members of the organization who turned email notifications off. */
    notificationEmailOff: (orgId: string) => k(`org:${orgId}:notifications:emailOff`),

    projects: (orgId: string) => k(`org:${orgId}:projects`),
    projectSlugs: (orgId: string) => k(`org:${orgId}:projects:bySlug`),
    project: (projectId: string) => k(`project:${projectId}`),
    artifactConfigs: (projectId: string) => k(`project:${projectId}:artifactConfigs`),
    artifactConfigSlugs: (projectId: string) => k(`project:${projectId}:artifactConfigs:bySlug`),
    artifactConfig: (configId: string) => k(`artifactConfig:${configId}`),
    policies: (projectId: string) => k(`project:${projectId}:policies`),
    policySlugs: (projectId: string) => k(`project:${projectId}:policies:bySlug`),
    policy: (policyId: string) => k(`policy:${policyId}`),
    /** A policy's pre-approved windows (grant ids), and each grant. */
    policyGrants: (policyId: string) => k(`policy:${policyId}:grants`),
    grant: (grantId: string) => k(`grant:${grantId}`),
    /** A policy's completed requests by submission time: the previous signed one beside a new one. */
    policySigned: (policyId: string) => k(`policy:${policyId}:signed`),
    webhooks: (projectId: string) => k(`project:${projectId}:webhooks`),
    webhook: (webhookId: string) => k(`webhook:${webhookId}`),
    chatChannels: (projectId: string) => k(`project:${projectId}:chatChannels`),
    chatChannel: (chatChannelId: string) => k(`chatChannel:${chatChannelId}`),
    certificates: (orgId: string) => k(`org:${orgId}:certificates`),
    certificateSlugs: (orgId: string) => k(`org:${orgId}:certificates:bySlug`),
    certificate: (certificateId: string) => k(`certificate:${certificateId}`),
    /** certificate id:fingerprint → the most urgent expiry notice sent (days before expiry; 0: expired). */
    certificateExpiryNotices: (orgId: string) => k(`org:${orgId}:certificates:expiryNotices`),
    buildSystems: (orgId: string) => k(`org:${orgId}:buildSystems`),
    buildSystem: (buildSystemId: string) => k(`buildSystem:${buildSystemId}`),
    requests: (orgId: string) => k(`org:${orgId}:requests`),
    requestsWaiting: (orgId: string) => k(`org:${orgId}:requests:waiting`),
    request: (requestId: string) => k(`request:${requestId}`),
    /** Requests that reached a final status, by the time they did (one sorted set per status): the dashboard counts them per day. */
    requestsFinished: (orgId: string, status: string) => k(`org:${orgId}:requests:finished:${status}`),
    /**
     * How long requests waited for the approval or denial that ended the wait, by the time of that
     * decision: members `policyId:waitMs:requestId` (one per request, so writing it twice counts once).
     */
    approvalWaits: (orgId: string) => k(`org:${orgId}:requests:approvalWaits`),
    idempotency: (orgId: string, scope: string, key: string) => k(`org:${orgId}:idempotency:${scope}:${key}`),
    /** A command sent with a request id: who is applying it, then its sealed answer (server/commands/attempt.ts). */
    commandAttempt: (orgId: string, actorScope: string, requestId: string) => k(`org:${orgId}:cmd:${actorScope}:${requestId}`),
    signingQueued: k('signing:queued'),
    signingExpiring: k('signing:expiring'),
    /** Waiting requests whose policy escalates, by when their next escalation step is due (org:request). */
    signingEscalating: k('signing:escalating'),
    /**
     * Before the outbox: requests that reached a final status and whose webhook deliveries were not
     * queued yet. Only drained now (nodes of earlier versions wrote it).
     */
    webhooksPending: k('webhooks:pending'),
    /** A delivery (mail, chat message, webhook call) a commit owes, until it is queued. */
    outboxItem: (deliveryId: string) => k(`outbox:${deliveryId}`),
    /** Owed deliveries by the time they were committed: the reconciler queues those a crash left behind. */
    outboxPending: k('outbox:pending'),
    bullPrefix: k('bull'),

    presence: (orgId: string) => k(`org:${orgId}:presence`),
    nodeAlive: (nodeId: string) => k(`node:${nodeId}:alive`),
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/** The organization id under which instance-level events (sign-ins of unknown accounts, operator actions) are audited. */
export const INSTANCE_ORG_ID = 'instance';
