// CI users: an account of kind ciUser that is a member of exactly one organization. Its records are
// the users' and members' (users.ts, members.ts); this module puts the two together. Removing one is
// the membership's removal (members.ts), which takes the account with it.
import type { MemberRecord, UserRecord } from './records.js';
import { combinePlans, type Loaded, type WritePlan } from './plan.js';
import type { MemberStore } from './members.js';
import type { UserStore } from './users.js';

export function ciUserStore(users: UserStore, members: MemberStore) {
  return {
    /** The CI user `userId` of `orgId`; null for anyone else (a person, another organization's). */
    async get(orgId: string, userId: string): Promise<Loaded<MemberRecord> | null> {
      const stored = await members.get(orgId, userId);
      return stored?.value.kind === 'ciUser' ? stored : null;
    },
    /** The account and its membership, created together. */
    create(user: UserRecord, member: MemberRecord): WritePlan {
      return combinePlans(users.create(user), members.create(member));
    },
  };
}
