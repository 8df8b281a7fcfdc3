// Members, pending invitations and CI users' API keys of the current organization, live.
import type { ApiKey, Invitation, Member } from '$lib/shared/entities';
import type { ChangeEvent } from '$lib/shared/events';
import { command } from '$lib/realtime/socket.svelte';
import { LiveList } from '$lib/realtime/liveList.svelte';

export class Team {
  readonly members = new LiveList<Member>(
    (member) => member.userId,
    (a, b) => a.joinedAt.localeCompare(b.joinedAt),
  );
  readonly invitations = new LiveList<Invitation>(
    (invitation) => invitation.id,
    (a, b) => a.createdAt.localeCompare(b.createdAt),
  );
  /** With team:manage, apiKey.list includes the keys of CI users (besides my own). */
  readonly apiKeys = new LiveList<ApiKey>(
    (key) => key.id,
    (a, b) => a.createdAt.localeCompare(b.createdAt),
  );

  async load(canManage: boolean): Promise<void> {
    const loads = [this.members.load(() => command('member.list', {}))];
    if (canManage) {
      loads.push(this.invitations.load(() => command('invite.list', {})));
      loads.push(this.apiKeys.load(() => command('apiKey.list', {})));
    } else {
      this.invitations.reset();
      this.apiKeys.reset();
    }
    await Promise.all(loads);
  }

  apply(event: ChangeEvent): void {
    if (event.entity === 'member') this.members.apply(event);
    else if (event.entity === 'invitation') this.invitations.apply(event);
    else if (event.entity === 'apiKey') this.apiKeys.apply(event);
  }

  get people(): Member[] {
    return this.members.items.filter((member) => member.kind === 'user');
  }

  get ciUsers(): Member[] {
    return this.members.items.filter((member) => member.kind === 'ciUser');
  }

  keysOf(userId: string): ApiKey[] {
    return this.apiKeys.items.filter((key) => key.ownerId === userId);
  }
}
