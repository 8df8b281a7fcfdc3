// Whether this node is draining (SIGTERM): set once by the drain in index.ts, read by whatever must
// not start anything new (readiness, handshakes, presence broadcasts, the commit feed's resubscribe).
export interface NodeStatus {
  readonly draining: boolean;
}
