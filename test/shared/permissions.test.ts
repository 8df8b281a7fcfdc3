import { describe, expect, it } from 'vitest';
import { PERMISSIONS, permissionsOf, roleHas, ROLES } from '../../src/lib/shared/permissions.js';
import { SPEC_ROWS } from '../helpers/specMatrix.js';

const rows = SPEC_ROWS;

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
