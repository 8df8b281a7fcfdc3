// Prometheus metrics (GET /metrics). One registry per node, so tests can run two nodes in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    commands: new Counter({
      name: 'signet_commands_total',
      help: 'Commands handled, by name and outcome code',
      labelNames: ['command', 'outcome'] as const,
      registers: [registry],
    }),
    commandSeconds: new Histogram({
      name: 'signet_command_duration_seconds',
      help: 'Time from receiving a command to its acknowledgement',
      labelNames: ['command'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    sockets: new Gauge({ name: 'signet_sockets', help: 'Connected sockets on this node', registers: [registry] }),
    auditRollbacks: new Counter({
      name: 'signet_audit_rollback_detected_total',
      help: 'Times this node found an organization\'s audit log in Redis behind a signed checkpoint it had seen (rolled back)',
      labelNames: ['org'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
