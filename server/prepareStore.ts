// Before a node (or a CLI run) touches the data: the master key must be the installation's, and the
// data must be in the format this code knows (pending migrations run here, once).
import type { Signet } from './signet.js';
import { verifyMasterKey } from './store/masterKeyCheck.js';
import { migrateStore, type MigrationResult } from './store/migrations/index.js';
import { storedHeadVerifies } from './audit/chain.js';
import { INSTANCE_ORG_ID } from './store/keys.js';

export async function prepareStore(signet: Signet): Promise<MigrationResult> {
  const { redis, keys } = signet;
  await verifyMasterKey(redis, keys, signet.config.masterKey, async () => {
    const orgIds = [INSTANCE_ORG_ID, ...(await redis.srandmember(keys.orgIds, 20))];
    return storedHeadVerifies(redis, keys, signet.auditKey.publicKey, orgIds);
  });
  return migrateStore(redis, keys, signet.logger);
}
