// What the commands this UI calls return. commands.ts declares inputs only; results are typed here
// from the shared entity types, and any command not listed resolves to `unknown`.
import type { CommandName } from '$lib/shared/commands';
import type { PreviousSigned } from '$lib/shared/approvals';
import type {
  ApiKey,
  ApprovalGrant,
  AuditActor,
  AuditEntry,
  Invitation,
  Member,
  Notification,
  NotificationLevel,
  Organization,
  SigningPolicy,
  ArtifactConfiguration,
  BuildSystem,
  Certificate,
  ChatChannel,
  Project,
  SigningRequest,
  Webhook,
} from '$lib/shared/entities';
import type { PresenceEntry } from '$lib/shared/events';
import type { DashboardStats } from '$lib/shared/stats';
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
  /** On the first page (no `before`): the log's current signed checkpoint note, null before the first seal. */
  checkpoint?: string | null;
}

export interface RequestPage {
  requests: SigningRequest[];
  /** Cursor for the next (older) page, or null at the end. */
  nextBefore: string | null;
  /** With awaitingMyApproval: how many wait in all (the page holds at most `limit`). */
  total?: number;
}

type Deleted = { deleted: string };

export interface NotificationSettingsResult {
  defaultLevel: 'default';
  /** Levels other than default, by policy id. */
  policies: Record<string, NotificationLevel>;
  /** Whether my notifications also come by email. */
  email: boolean;
  /** Whether this installation sends email at all. */
  emailConfigured: boolean;
}

export interface CommandResults {
  'me.get': Me;
  'member.list': Member[];
  'member.invite': { invitation: Invitation; inviteLink: string; mailed: boolean };
  'member.changeRole': Member;
  'member.remove': { removed: string; revokedApiKeys: number };
  'invite.list': Invitation[];
  'invite.revoke': { revoked: string };
  'audit.query': AuditPage;
  'notification.list': { items: Notification[]; unreadCount: number };
  'notification.markRead': { marked: number; unreadCount: number };
  'presence.update': { online: PresenceEntry[] };
  'org.update': Organization;
  'org.delete': { deleted: true };
  'ciUser.create': { ciUser: Member; apiKey: ApiKey; token: string };
  'ciUser.remove': { removed: string; revokedApiKeys: number };
  'support.authorize': Organization;
  'support.disable': Organization;
  'apiKey.list': ApiKey[];
  'apiKey.create': { apiKey: ApiKey; token: string; inheritedExpiry: boolean };
  'apiKey.revoke': { revoked: string; alsoRevoked: string[] };
  'notification.settings': NotificationSettingsResult;
  'policy.list': SigningPolicy[];
  // Code signing (SPEC §4)
  'project.list': Project[];
  'project.get': { project: Project; artifactConfigs: ArtifactConfiguration[]; policies: SigningPolicy[] };
  'project.create': { project: Project; defaultArtifactConfig: ArtifactConfiguration };
  'project.update': Project;
  'project.delete': Deleted;
  'artifactConfig.list': ArtifactConfiguration[];
  'artifactConfig.create': ArtifactConfiguration;
  'artifactConfig.update': ArtifactConfiguration;
  'artifactConfig.delete': Deleted;
  'certificate.list': Certificate[];
  'certificate.generate': Certificate;
  'certificate.import': Certificate;
  'certificate.generateCsr': Certificate;
  'certificate.downloadCsr': { fileName: string; csrPem: string };
  'certificate.importIssued': Certificate;
  'certificate.update': Certificate;
  'policy.create': SigningPolicy;
  'policy.update': SigningPolicy;
  'policy.delete': Deleted;
  'buildSystem.list': BuildSystem[];
  'buildSystem.create': BuildSystem;
  'buildSystem.delete': Deleted;
  'webhook.list': Webhook[];
  'webhook.create': { webhook: Webhook; secret: string };
  'webhook.update': Webhook;
  'chatChannel.list': ChatChannel[];
  'chatChannel.create': ChatChannel;
  'chatChannel.delete': Deleted;
  'webhook.delete': Deleted;
  'request.list': RequestPage;
  /** previousSigned: the policy's last completed request before this one, and what changed since (SPEC §4). */
  'request.get': { request: SigningRequest; activity: AuditEntry[]; previousSigned: PreviousSigned | null };
  'request.approve': SigningRequest;
  'request.deny': SigningRequest;
  'request.cancel': SigningRequest;
  'request.resubmit': SigningRequest;
  'dashboard.stats': DashboardStats;
  'request.breakGlass': SigningRequest;
  'grant.list': ApprovalGrant[];
  'grant.propose': ApprovalGrant;
  'grant.cosign': ApprovalGrant;
  'grant.revoke': ApprovalGrant;
}

export type CommandResult<N extends CommandName> = N extends keyof CommandResults ? CommandResults[N] : unknown;
