// audit.query, audit.verify
import { commandInputs } from '../../src/lib/shared/commands.js';
import { queryAudit } from '../audit/query.js';
import { verifyAuditChain } from '../audit/chain.js';
import { defineCommand } from './define.js';

export const queryAuditLog = defineCommand({
  name: 'audit.query',
  input: commandInputs['audit.query'],
  permission: 'audit:read',
  async handler({ actor, repos }, input) {
    const { before, limit, ...filter } = input;
    return queryAudit(repos.redis, repos.keys, actor.orgId, filter, before, limit ?? 50);
  },
});

export const verifyAuditLog = defineCommand({
  name: 'audit.verify',
  input: commandInputs['audit.verify'],
  permission: 'audit:read',
  async handler({ actor, repos, signet }) {
    return verifyAuditChain(repos.redis, repos.keys, signet.auditKey.publicKey, actor.orgId);
  },
});
