// The audit tail rollback an attacker with write access to Redis can do (issue 10, hole 2): delete
// the newest entries and their seals and checkpoints, restore an older signed chain head and the
// sequence counter. The chain left behind is whole and validly signed, only shorter.
import type { SignetNode } from '../../server/index.js';

/** The sizes at which the sealer stored a signed checkpoint, oldest first. */
export async function sealedSizes(node: SignetNode, orgId: string): Promise<number[]> {
  const rows = await node.signet.redis.zrange(node.signet.keys.auditCheckpoints(orgId), '0', '-1', 'WITHSCORES');
  return rows.filter((_, i) => i % 2 === 1).map(Number);
}

/** Rolls the organization's audit log back to the signed checkpoint at `size`, as an attacker in Redis would. */
export async function rollBackAuditLog(node: SignetNode, orgId: string, size: number): Promise<void> {
  const { redis, keys } = node.signet;
  const [olderHead] = await redis.zrangebyscore(keys.auditCheckpoints(orgId), size, size);
  if (!olderHead) throw new Error(`no signed checkpoint at ${size} to restore`);
  const newest = Number(await redis.get(keys.auditSeq(orgId)));
  const removedSeals = Array.from({ length: Math.max(0, newest - size) }, (_, i) => String(size + 1 + i));
  const multi = redis
    .multi()
    .zremrangebyscore(keys.audit(orgId), `(${size}`, '+inf')
    .zremrangebyscore(keys.auditCheckpoints(orgId), `(${size}`, '+inf')
    .set(keys.auditHead(orgId), olderHead)
    .set(keys.auditSeq(orgId), String(size));
  if (removedSeals.length) multi.hdel(keys.auditSeals(orgId), ...removedSeals);
  await multi.exec();
}
