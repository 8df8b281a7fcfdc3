import { describe, expect, it } from 'vitest';
import { PERMISSIONS, permissionsOf, roleHas, ROLES } from '../../src/lib/shared/permissions.js';

// SPEC §3, copied as text so that a change to the table in code has to be made here too.
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

const rows = SPEC_TABLE.trim()
  .split('\n')
  .map((line) => line.split('|').map((cell) => cell.trim()));

describe('the permission matrix', () => {
  it('lists exactly the permissions of the spec', () => {
    expect([...PERMISSIONS].sort()).toEqual(rows.map(([permission]) => permission).sort());
  });

  for (const [permission, ...cells] of rows) {
    it(`${permission}: owner, admin, member, viewer = ${cells.join(' ')}`, () => {
      expect(ROLES.map((role) => (roleHas(role, permission as never) ? 'Y' : 'N'))).toEqual(cells);
    });
  }

  it('treats the legacy analyst role exactly as member', () => {
    expect(permissionsOf('analyst')).toEqual(permissionsOf('member'));
  });

  it('gives the owner everything and the viewer only reads', () => {
    expect(permissionsOf('owner')).toEqual([...PERMISSIONS]);
    expect(permissionsOf('viewer')).toEqual(['signing:read', 'config:read', 'team:read']);
  });
});
