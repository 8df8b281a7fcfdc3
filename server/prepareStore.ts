// Before a node (or a CLI run) touches the data: the master key must be the installation's, and the
// data must be in the format this code knows (pending migrations run here, once).
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Store } from './store/store.js';
import type { AuditSigningKey } from './audit/signingKey.js';
import { verifyMasterKey } from './store/masterKeyCheck.js';
import { migrateStore, type MigrationResult } from './store/migrations/index.js';
import { storedHeadVerifies } from './audit/chain.js';
import { INSTANCE_ORG_ID } from './store/keys.js';

export async function prepareStore(
  { redis, keys, organizations }: Pick<Store, 'redis' | 'keys' | 'organizations'>,
  config: Config,
  auditKey: AuditSigningKey,
  logger: Logger,
): Promise<MigrationResult> {
  await verifyMasterKey(redis, keys, config.masterKey, async () => {
    const orgIds = [INSTANCE_ORG_ID, ...(await organizations.sampleIds(20))];
    return storedHeadVerifies(redis, keys, auditKey.publicKey, orgIds);
  });
  return migrateStore(redis, keys, logger);
}
