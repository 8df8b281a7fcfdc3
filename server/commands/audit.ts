// audit.query, audit.verify. Both hand the browser the organization's current signed checkpoint,
// which it remembers (src/lib/audit/checkpointMemory.ts), and let this node compare it with its own
// record (server/audit/rollbackWatch.ts).
import { auditLog } from '../audit/log.js';
import type { Signet } from '../signet.js';
import { defineCommand, type NodeServices } from './define.js';

/** The current checkpoint note, also offered to this node's rollback watch (without waiting for it). */
export async function checkpointFor(signet: Signet, auditWatch: NodeServices['auditWatch'], orgId: string): Promise<string | null> {
  const checkpoint = await auditLog(signet.store).checkpoint(signet.auditKey, signet.config.publicUrl, orgId);
  void auditWatch?.observe(orgId, checkpoint);
  return checkpoint;
}

export const queryAuditLog = defineCommand({
  name: 'audit.query',
  async handler({ actor, store, signet, node }, input) {
    const { before, limit, ...filter } = input;
    const page = await auditLog(store).page(actor.orgId, filter, before, limit ?? 50);
    // The first page carries the checkpoint; older pages are read against the same one.
    return before === undefined ? { ...page, checkpoint: await checkpointFor(signet, node.auditWatch, actor.orgId) } : page;
  },
});

export const verifyAuditLog = defineCommand({
  name: 'audit.verify',
  async handler({ actor, store, signet, node }) {
    const remembered = await node.auditWatch?.remembered(actor.orgId);
    const known = remembered ? [{ size: remembered.size, hash: remembered.hash, source: "this node's checkpoint record" }] : [];
    const result = await auditLog(store).verify(signet.auditKey.publicKey, actor.orgId, known);
    return { ...result, checkpoint: await checkpointFor(signet, node.auditWatch, actor.orgId) };
  },
});
