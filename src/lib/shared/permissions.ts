// Roles and the permission matrix of SPEC §3: one typed table, imported by the server (every
// check) and by the UI (what it shows). Nothing else in the code base decides what a role may do.

export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Roles that may appear in stored or imported data. `analyst` is legacy and behaves as member. */
export const STORED_ROLES = [...ROLES, 'analyst'] as const;
export type StoredRole = (typeof STORED_ROLES)[number];

/** Roles an invitation or a role change may grant: never the owner, never the legacy analyst. */
export const ASSIGNABLE_ROLES = ['admin', 'member', 'viewer'] as const;
export type AssignableRole = (typeof ASSIGNABLE_ROLES)[number];

export const PERMISSIONS = [
  'signing:read',
  'signing:submit',
  'signing:approve',
  'config:read',
  'config:write',
  'policy:write',
  'certificate:write',
  'apikey:write',
  'team:read',
  'team:manage',
  'audit:read',
  'project:delete',
  'org:delete',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const PERMISSION_DESCRIPTIONS: Record<Permission, string> = {
  'signing:read': 'view signing requests and their activity',
  'signing:submit': 'submit, re-submit, cancel own requests where a signing policy names you a submitter',
  'signing:approve': 'approve or deny where a signing policy names you an approver',
  'config:read': 'view projects, artifact configurations, signing policies, certificates (public parts)',
  'config:write': 'create and edit projects (all but their repository URL) and artifact configurations',
  'policy:write': "create and edit signing policies and a project's repository URL, which origin verification trusts",
  'certificate:write': 'add, generate, import, edit, disable certificates',
  'apikey:write': 'create and revoke your own API keys',
  'team:read': 'view members',
  'team:manage': 'invite, remove, change roles, manage CI users, authorize or disable support',
  'audit:read': 'view the audit log and its live feed',
  'project:delete': 'delete a project',
  'org:delete': 'delete the organization',
};

const Y = true;
const N = false;

/** SPEC §3, row for row. Columns: owner, admin, member, viewer. */
const MATRIX: Record<Permission, [owner: boolean, admin: boolean, member: boolean, viewer: boolean]> = {
  'signing:read': [Y, Y, Y, Y],
  'signing:submit': [Y, Y, Y, N],
  'signing:approve': [Y, Y, Y, N],
  'config:read': [Y, Y, Y, Y],
  'config:write': [Y, Y, Y, N],
  'policy:write': [Y, Y, N, N],
  'certificate:write': [Y, Y, N, N],
  'apikey:write': [Y, Y, Y, N],
  'team:read': [Y, Y, Y, Y],
  'team:manage': [Y, Y, N, N],
  'audit:read': [Y, Y, N, N],
  'project:delete': [Y, N, N, N],
  'org:delete': [Y, N, N, N],
};

/**
 * A project's repository URL is the anchor origin verification checks build identities against:
 * setting or changing it is trusted like the signing policies that rely on it (SPEC §3), not like
 * the rest of the project's metadata (config:write).
 */
export const REPOSITORY_URL_PERMISSION: Permission = 'policy:write';

/** The role a stored role behaves as: `analyst` is `member`. */
export function effectiveRole(role: StoredRole): Role {
  return role === 'analyst' ? 'member' : role;
}

export function roleHas(role: StoredRole, permission: Permission): boolean {
  return MATRIX[permission][ROLES.indexOf(effectiveRole(role))] === true;
}

export function permissionsOf(role: StoredRole): Permission[] {
  return PERMISSIONS.filter((permission) => roleHas(role, permission));
}

/** Permissions whose holders receive live events of a kind (audit feed, invitations, …). */
export const READ_PERMISSIONS = ['signing:read', 'config:read', 'team:read', 'team:manage', 'audit:read'] as const;
export type ReadPermission = (typeof READ_PERMISSIONS)[number];
