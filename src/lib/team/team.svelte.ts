// Members and pending invitations of the current organization, live.
import type { Invitation, Member } from '$lib/shared/entities';
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

  async load(canManage: boolean): Promise<void> {
    const loads = [this.members.load(() => command('member.list', {}))];
    if (canManage) loads.push(this.invitations.load(() => command('invite.list', {})));
    else this.invitations.reset();
    await Promise.all(loads);
  }

  apply(event: ChangeEvent): void {
    if (event.entity === 'member') this.members.apply(event);
    else if (event.entity === 'invitation') this.invitations.apply(event);
  }
}
