// SPEC §3's permission matrix, copied as text: the tests read what the spec says from here, never
// from the server's own table (src/lib/shared/permissions.ts), so a change to one has to be made
// to the other on purpose.
import type { Permission } from '../../src/lib/shared/permissions.js';

const SPEC_TABLE = `
signing:read      | Y | Y | Y | Y
signing:submit    | Y | Y | Y | N
signing:approve   | Y | Y | Y | N
config:read       | Y | Y | Y | Y
config:write      | Y | Y | Y | N
policy:write      | Y | Y | N | N
certificate:write | Y | Y | N | N
apikey:write      | Y | Y | Y | N
team:read         | Y | Y | Y | Y
team:manage       | Y | Y | N | N
audit:read        | Y | Y | N | N
project:delete    | Y | N | N | N
org:delete        | Y | N | N | N
`;

export const SPEC_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type SpecRole = (typeof SPEC_ROLES)[number];

/** Each row: the permission, then Y or N for owner, admin, member, viewer. */
export const SPEC_ROWS = SPEC_TABLE.trim()
  .split('\n')
  .map((line) => line.split('|').map((cell) => cell.trim())) as Array<[Permission, ...Array<'Y' | 'N'>]>;

export const SPEC_PERMISSIONS: Permission[] = SPEC_ROWS.map(([permission]) => permission);

/** What each role may do, as SPEC §3 says. */
export const SPEC_ROLE_PERMISSIONS = Object.fromEntries(
  SPEC_ROLES.map((role, column) => [role, new Set(SPEC_ROWS.filter((row) => row[column + 1] === 'Y').map(([permission]) => permission))]),
) as unknown as Record<SpecRole, ReadonlySet<Permission>>;
