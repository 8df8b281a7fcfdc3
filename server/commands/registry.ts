// Every command Signet serves, in one explicit list. A command not listed here does not exist.
import type { AnyCommand } from './define.js';
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

export const COMMANDS = [
  getMe,
  getOrganization,
  updateOrganization,
  deleteOrganization,
  listMembers,
  inviteMember,
  changeMemberRole,
  removeMember,
  listInvitations,
  revokeInvitation,
  createCiUser,
  removeCiUser,
  authorizeSupport,
  disableSupport,
  listApiKeys,
  createApiKey,
  revokeApiKey,
  queryAuditLog,
  verifyAuditLog,
  listNotifications,
  markNotificationsRead,
  notificationSettings,
  updatePresence,
  listProjects,
  getProject,
  createProject,
  updateProject,
  deleteProject,
  listArtifactConfigs,
  createArtifactConfig,
  updateArtifactConfig,
  deleteArtifactConfig,
  listCertificates,
  generateCertificate,
  importCertificate,
  generateCsr,
  downloadCsr,
  importIssuedCertificate,
  updateCertificate,
  listPolicies,
  createPolicy,
  updatePolicy,
  deletePolicy,
  listBuildSystems,
  createBuildSystem,
  deleteBuildSystem,
  listWebhooks,
  createWebhook,
  updateWebhook,
  deleteWebhook,
  listChatChannels,
  createChatChannel,
  deleteChatChannel,
  listRequests,
  getRequest,
  approveRequest,
  denyRequest,
  cancelRequest,
  resubmitRequest,
  dashboardStats,
  breakGlassRequest,
  listGrants,
  proposeGrant,
  cosignGrant,
  revokeGrant,
] as unknown as readonly AnyCommand[];

export const COMMANDS_BY_NAME: ReadonlyMap<string, AnyCommand> = new Map(COMMANDS.map((command) => [command.name, command]));
