// What the commands this UI calls return. commands.ts declares inputs only; results are typed here
// from the shared entity types, and any command not listed resolves to `unknown`.
import type { CommandName } from '$lib/shared/commands';
import type { AuditActor, AuditEntry, Invitation, Member, Notification, Organization } from '$lib/shared/entities';
import type { PresenceEntry } from '$lib/shared/events';
import type { Permission, StoredRole } from '$lib/shared/permissions';

export interface Me {
  actor: AuditActor;
  user: { id: string; email: string; name: string; kind: string } | null;
  org: Organization;
  role: StoredRole;
  rolePermissions: Permission[];
  permissions: Permission[];
}

export interface AuditPage {
  entries: AuditEntry[];
  nextBefore: number | null;
}

export interface CommandResults {
  'me.get': Me;
  'member.list': Member[];
  'member.invite': { invitation: Invitation; inviteLink: string };
  'member.changeRole': Member;
  'member.remove': { removed: string; revokedApiKeys: number };
  'invite.list': Invitation[];
  'invite.revoke': { revoked: string };
  'audit.query': AuditPage;
  'notification.list': { items: Notification[]; unreadCount: number };
  'notification.markRead': { marked: number; unreadCount: number };
  'presence.update': { online: PresenceEntry[] };
}

export type CommandResult<N extends CommandName> = N extends keyof CommandResults ? CommandResults[N] : unknown;
