// Every command Signet serves, in one explicit list. A command not listed here does not exist.
import type { CommandName } from '../../src/lib/shared/commands.js';
import type { AnyCommand, CommandDefinition } from './define.js';
import { deleteOrganization, getMe, getOrganization, updateOrganization } from './organization.js';
import {
  changeMemberRole,
  inviteMember,
  listInvitations,
  listMembers,
  removeMember,
  revokeInvitation,
} from './members.js';
import { createCiUser, removeCiUser } from './ciUsers.js';
import { authorizeSupport, disableSupport } from './support.js';
import { createApiKey, listApiKeys, revokeApiKey } from './apiKeys.js';
import { queryAuditLog, verifyAuditLog } from './audit.js';
import { listNotifications, markNotificationsRead, notificationSettings } from './notifications.js';
import { updatePresence } from './presence.js';
import {
  createArtifactConfig,
  createProject,
  deleteArtifactConfig,
  deleteProject,
  getProject,
  listArtifactConfigs,
  listProjects,
  updateArtifactConfig,
  updateProject,
} from './projects.js';
import {
  downloadCsr,
  generateCertificate,
  generateCsr,
  importCertificate,
  importIssuedCertificate,
  listCertificates,
  updateCertificate,
} from './certificates.js';
import {
  createBuildSystem,
  createPolicy,
  deleteBuildSystem,
  deletePolicy,
  listBuildSystems,
  listPolicies,
  updatePolicy,
} from './policies.js';
import { createWebhook, deleteWebhook, listWebhooks, updateWebhook } from './webhooks.js';
import { createChatChannel, deleteChatChannel, listChatChannels } from './chatChannels.js';
import { approveRequest, breakGlassRequest, cancelRequest, denyRequest, getRequest, listRequests, resubmitRequest } from './requests.js';
import { cosignGrant, listGrants, proposeGrant, revokeGrant } from './grants.js';
import { dashboardStats } from './dashboard.js';

/** Each declared command's handler: a command declared in src/lib/shared/commands.ts without one here does not compile. */
const HANDLERS: { [N in CommandName]: CommandDefinition<N> } = {
  'me.get': getMe,
  'org.get': getOrganization,
  'org.update': updateOrganization,
  'org.delete': deleteOrganization,
  'member.list': listMembers,
  'member.invite': inviteMember,
  'member.changeRole': changeMemberRole,
  'member.remove': removeMember,
  'invite.list': listInvitations,
  'invite.revoke': revokeInvitation,
  'ciUser.create': createCiUser,
  'ciUser.remove': removeCiUser,
  'support.authorize': authorizeSupport,
  'support.disable': disableSupport,
  'apiKey.list': listApiKeys,
  'apiKey.create': createApiKey,
  'apiKey.revoke': revokeApiKey,
  'audit.query': queryAuditLog,
  'audit.verify': verifyAuditLog,
  'notification.list': listNotifications,
  'notification.markRead': markNotificationsRead,
  'notification.settings': notificationSettings,
  'presence.update': updatePresence,
  'project.list': listProjects,
  'project.get': getProject,
  'project.create': createProject,
  'project.update': updateProject,
  'project.delete': deleteProject,
  'artifactConfig.list': listArtifactConfigs,
  'artifactConfig.create': createArtifactConfig,
  'artifactConfig.update': updateArtifactConfig,
  'artifactConfig.delete': deleteArtifactConfig,
  'certificate.list': listCertificates,
  'certificate.generate': generateCertificate,
  'certificate.import': importCertificate,
  'certificate.generateCsr': generateCsr,
  'certificate.downloadCsr': downloadCsr,
  'certificate.importIssued': importIssuedCertificate,
  'certificate.update': updateCertificate,
  'policy.list': listPolicies,
  'policy.create': createPolicy,
  'policy.update': updatePolicy,
  'policy.delete': deletePolicy,
  'buildSystem.list': listBuildSystems,
  'buildSystem.create': createBuildSystem,
  'buildSystem.delete': deleteBuildSystem,
  'webhook.list': listWebhooks,
  'webhook.create': createWebhook,
  'webhook.update': updateWebhook,
  'webhook.delete': deleteWebhook,
  'chatChannel.list': listChatChannels,
  'chatChannel.create': createChatChannel,
  'chatChannel.delete': deleteChatChannel,
  'request.list': listRequests,
  'request.get': getRequest,
  'request.approve': approveRequest,
  'request.deny': denyRequest,
  'request.cancel': cancelRequest,
  'request.breakGlass': breakGlassRequest,
  'request.resubmit': resubmitRequest,
  'grant.list': listGrants,
  'grant.propose': proposeGrant,
  'grant.cosign': cosignGrant,
  'grant.revoke': revokeGrant,
  'dashboard.stats': dashboardStats,
};

export const COMMANDS: readonly AnyCommand[] = Object.values(HANDLERS) as AnyCommand[];

export const COMMANDS_BY_NAME: ReadonlyMap<string, AnyCommand> = new Map(COMMANDS.map((command) => [command.name, command]));
