// dashboard.stats: the numbers behind the dashboard's pictures (server/signing/statistics.ts).
import { readDashboardStats } from '../signing/statistics.js';
import { defineCommand } from './define.js';

export const dashboardStats = defineCommand({
  name: 'dashboard.stats',
  async handler({ actor, store }, input) {
    // Certificates are configuration: counted only for whoever may read it (an API key may not).
    return readDashboardStats(store, actor.orgId, { days: input.days, withCertificates: actor.permissions.has('config:read') });
  },
});
