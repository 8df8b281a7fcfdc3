// The writes that store an account and a membership, with their indexes (shared by setup, the
// operator's commands and accepting an invitation).
import type { RedisKeys } from '../store/keys.js';
import type { MemberRecord, UserRecord } from '../store/records.js';
import type { WriteOp } from '../store/commit.js';

export function userWrites(keys: RedisKeys, user: UserRecord): WriteOp[] {
  return [
    ['set', keys.user(user.id), JSON.stringify(user)],
    ['hset', keys.usersByEmail, user.email, user.id],
  ];
}

export function membershipWrites(keys: RedisKeys, member: MemberRecord): WriteOp[] {
  return [
    ['set', keys.member(member.orgId, member.userId), JSON.stringify(member)],
    ['sadd', keys.orgMembers(member.orgId), member.userId],
    ['sadd', keys.userOrgs(member.userId), member.orgId],
  ];
}
