// Invitations: a record per invitation (expiring by itself after INVITATION_LIFETIME_MS), the index
// of its token's hash, and the organization's set of pending invitations. Reads are scoped to an
// organization, except by token: the token itself is the proof of whom it was sent to.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { Audience } from './commit.js';
import { toInvitation, type InvitationRecord } from './records.js';
import { changeEvent } from './events.js';
import { inOrg, parseLoaded, type Loaded, type WritePlan } from './plan.js';

export const INVITATION_LIFETIME_MS = 14 * 24 * 60 * 60 * 1000;

/** Who hears about invitations: those who manage the team (the invited address is theirs to see). */
const TEAM_MANAGERS: Audience[] = ['p:team:manage'];

export function invitationStore(redis: Redis, keys: RedisKeys) {
  const get = async (inviteId: string) => parseLoaded<InvitationRecord>(await redis.get(keys.invite(inviteId)));
  return {
    async get(orgId: string, inviteId: string): Promise<Loaded<InvitationRecord> | null> {
      return inOrg(await get(inviteId), orgId);
    },
    /** The invitation a link's token (by its hash) stands for, in whichever organization. */
    async byToken(tokenHash: string): Promise<Loaded<InvitationRecord> | null> {
      const id = await redis.get(keys.inviteToken(tokenHash));
      return id ? get(id) : null;
    },
    async list(orgId: string): Promise<InvitationRecord[]> {
      const ids = await redis.smembers(keys.orgInvites(orgId));
      if (ids.length === 0) return [];
      const raws = await redis.mget(...ids.map(keys.invite));
      // Invitations expire by themselves (key TTL); the set is this module's index, so the ids of
      // expired ones are dropped from it here (nothing is audited: nothing anyone did changed).
      const expired = ids.filter((_, i) => raws[i] === null);
      if (expired.length) await redis.srem(keys.orgInvites(orgId), ...expired);
      return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as InvitationRecord);
    },
    create(invitation: InvitationRecord): WritePlan {
      return {
        expect: [{ key: keys.invite(invitation.id), equals: null }],
        ops: [
          ['set', keys.invite(invitation.id), JSON.stringify(invitation), INVITATION_LIFETIME_MS],
          ['set', keys.inviteToken(invitation.tokenHash), invitation.id, INVITATION_LIFETIME_MS],
          ['sadd', keys.orgInvites(invitation.orgId), invitation.id],
        ],
        events: [changeEvent(invitation.orgId, 'invitation', 'created', invitation.id, toInvitation(invitation), TEAM_MANAGERS)],
      };
    },
    /** Revoked or accepted: only if still as read (used or revoked meanwhile, the commit refuses). */
    remove(stored: Loaded<InvitationRecord>): WritePlan {
      const invitation = stored.value;
      return {
        expect: [{ key: keys.invite(invitation.id), equals: stored.raw }],
        ops: [
          ['del', keys.invite(invitation.id)],
          ['del', keys.inviteToken(invitation.tokenHash)],
          ['srem', keys.orgInvites(invitation.orgId), invitation.id],
        ],
        events: [changeEvent(invitation.orgId, 'invitation', 'deleted', invitation.id, undefined, TEAM_MANAGERS)],
      };
    },
    /** Every invitation of a deleted organization, without events (the organization's deletion announces it). */
    removeAll(orgId: string, invitations: InvitationRecord[]): WritePlan {
      return {
        expect: [],
        ops: [
          ...invitations.flatMap((invitation) => [['del', keys.invite(invitation.id)] as const, ['del', keys.inviteToken(invitation.tokenHash)] as const]),
          ['del', keys.orgInvites(orgId)],
        ],
        events: [],
      };
    },
  };
}

export type InvitationStore = ReturnType<typeof invitationStore>;
