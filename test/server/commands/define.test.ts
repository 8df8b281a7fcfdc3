// A command's handler is bound to its one declaration (src/lib/shared/commands.ts): the dispatcher
// checks the declared permission and parses the declared input, and the handler's answer must have
// the declared result's type. The type-level halves are checked by `npm run check`: each marked
// mistake below (ts-expect-error) fails the check if it ever compiles.
import { describe, expect, it } from 'vitest';
import { commandDeclarations } from '../../../src/lib/shared/commands.js';
import { defineCommand } from '../../../server/commands/define.js';
import { changeEvent } from '../../../server/store/events.js';
import { COMMANDS } from '../../../server/commands/registry.js';

describe('defineCommand', () => {
  it("takes the command's permission and input from its declaration", () => {
    const deleteOrganization = defineCommand({ name: 'org.delete', handler: async () => ({ deleted: true as const }) });
    expect(deleteOrganization.permission).toBe('org:delete');
    expect(deleteOrganization.input).toBe(commandDeclarations['org.delete'].input);
  });

  it('refuses, at compile time, a handler that answers something other than the declared result', () => {
    const wrong = defineCommand({
      name: 'org.delete',
      // @ts-expect-error the declared result is { deleted: true }
      handler: async () => ({ deleted: 'yes' }),
    });
    expect(wrong.permission).toBe('org:delete');
  });

  it('serves exactly the declared commands, each with its declared permission', () => {
    expect(COMMANDS.map((command) => command.name).sort()).toEqual(Object.keys(commandDeclarations).sort());
    for (const command of COMMANDS) expect(command.permission, command.name).toBe(commandDeclarations[command.name].permission);
  });
});

describe('changeEvent', () => {
  it('builds the change a client receives: the entity with its version, or a deletion without data', () => {
    const project = { id: 'p1', orgId: 'o1', slug: 'app', name: 'App', status: 'active' as const, repositoryUrl: null, description: '', createdAt: '2026-01-01T00:00:00.000Z', version: 3 };
    expect(changeEvent('o1', 'project', 'updated', 'p1', project, ['all']).data).toEqual({ entity: 'project', id: 'p1', op: 'updated', data: project, version: 3 });
    expect(changeEvent('o1', 'project', 'deleted', 'p1', undefined, ['all']).data).toEqual({ entity: 'project', id: 'p1', op: 'deleted' });
  });

  it('names only entities of the closed set, with data of their type', () => {
    // @ts-expect-error no entity is called "projekt"
    expect(changeEvent('o1', 'projekt', 'deleted', 'p1', undefined, ['all']).data).toMatchObject({ op: 'deleted' });
    // @ts-expect-error a project's change carries a project
    expect(changeEvent('o1', 'project', 'created', 'p1', { id: 'p1' }, ['all']).data).toMatchObject({ op: 'created' });
  });
});
