// Following a signing request live over Socket.IO with the API key (SPEC §7): no polling. Each
// change of the request and each presence update is told as a step; a dropped connection is
// retried forever with backoff and resumed from the last event sequence number seen
// (`auth.lastSeq`), so the server replays what happened meanwhile, each event once.
import { io, type Socket } from 'socket.io-client';
import type { CommandAck } from '../../../src/lib/shared/commands.js';
import type { SignatureFormat } from '../../../src/lib/shared/entities.js';
import type { ChangeEvent, ClientToServerEvents, HandshakeAuth, PresenceEntry, ReadyEvent, ServerToClientEvents } from '../../../src/lib/shared/events.js';
import { EXIT, SignExit } from './exitCodes.js';
import type { Reporter } from './reporter.js';
import type { RestRequest } from './transfer.js';

interface Decision {
  userId: string;
  name: string;
  comment: string;
}

/** What the CLI keeps of the request: REST and socket shapes both fit. */
export interface RequestView {
  id: string;
  workflowStatus: string;
  isFinalStatus: boolean;
  requiredApprovals: number;
  approvals: Decision[];
  denials: Decision[];
  failureReason: string | null;
  signature: RestRequest['signature'];
  signatureFormat?: SignatureFormat;
  preApproval?: RestRequest['preApproval'];
  breakGlass?: RestRequest['breakGlass'];
  escalation?: RestRequest['escalation'];
  /** Unknown (-1) until the socket has shown the request: the REST shape has no version. */
  version: number;
  projectId?: string;
  policyId?: string;
  submitterId?: string;
}

export function viewOf(request: RestRequest | (Omit<RequestView, 'version'> & { version?: number })): RequestView {
  return {
    id: request.id,
    workflowStatus: request.workflowStatus,
    isFinalStatus: request.isFinalStatus,
    requiredApprovals: request.requiredApprovals,
    approvals: request.approvals,
    denials: request.denials,
    failureReason: request.failureReason,
    signature: request.signature,
    signatureFormat: request.signatureFormat,
    preApproval: request.preApproval,
    breakGlass: request.breakGlass,
    escalation: request.escalation,
    version: 'version' in request && typeof request.version === 'number' ? request.version : -1,
    projectId: 'projectId' in request ? request.projectId : undefined,
    policyId: 'policyId' in request ? request.policyId : undefined,
    submitterId: 'submitterId' in request ? request.submitterId : undefined,
  };
}

/** The step a waiting request's escalation to its backup approvers reads as, when this change made it. */
export function escalationStep(before: RequestView, after: RequestView): string | null {
  const escalation = after.escalation;
  if (!escalation?.escalatedAt || before.escalation?.escalatedAt || after.workflowStatus !== 'WaitingForApproval') return null;
  const backups = escalation.backups.map((b) => b.name).join(', ');
  return `waited ${escalation.afterMinutes} min: escalated to ${backups || 'the backup approvers'}`;
}

/** How a status reads as a step. */
export function describeStatus(view: RequestView): string {
  switch (view.workflowStatus) {
    case 'WaitingForApproval':
      return `waiting for approvals: ${view.approvals.length} of ${view.requiredApprovals}`;
    case 'QueuedForProcessing':
      if (view.preApproval) return `pre-approved by grant ${view.preApproval.grantId} (${view.preApproval.cosigners.map((c) => c.name).join(', ')}); queued for signing`;
      if (view.breakGlass) return `approved by ${view.breakGlass.name} alone (break-glass: ${view.breakGlass.reason}); queued for signing`;
      return view.approvals.length ? 'approved; queued for signing' : 'queued for signing';
    case 'Processing':
      return 'signing';
    case 'Completed':
      return 'completed';
    case 'ProcessingFailed':
      return `failed: ${view.failureReason ?? 'no reason given'}`;
    case 'Denied': {
      const denial = view.denials[0];
      return denial ? `denied by ${denial.name}${denial.comment ? `: ${denial.comment}` : ''}` : 'denied';
    }
    case 'Canceled':
      return view.failureReason ? `canceled (${view.failureReason})` : 'canceled';
    default:
      return view.workflowStatus;
  }
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;
const COMMAND_TIMEOUT_MS = 30_000;

export interface FollowOptions {
  url: string;
  token: string;
  initial: RestRequest;
  reporter: Reporter;
  /** Give up waiting after this long (--timeout); without it, wait as long as it takes. */
  timeoutMs?: number;
}

/** Resolves with the request once it is final; rejects with a SignExit (auth, timeout). */
export function followRequest(options: FollowOptions): Promise<RequestView> {
  const { reporter } = options;
  let view = viewOf(options.initial);
  const requestId = view.id;
  let lastSeq: number | undefined;
  let connections = 0;
  let outage = false;
  let manualRetries = 0;
  let approvers: string[] | null = null;
  let onlineSummary = '';
  let online: PresenceEntry[] = [];

  const socket: ClientSocket = io(options.url, {
    path: '/socket.io',
    // One TCP connection: nothing for a load balancer to keep sticky.
    transports: ['websocket'],
    reconnection: true,
    reconnectionAttempts: Infinity,
    reconnectionDelay: RECONNECT_MIN_MS,
    reconnectionDelayMax: RECONNECT_MAX_MS,
    randomizationFactor: 0.5,
    // Asked on every (re)connection: resume after the last event seen.
    auth: (give: (auth: HandshakeAuth) => void) => give(lastSeq === undefined ? { token: options.token } : { token: options.token, lastSeq }),
  });

  return new Promise<RequestView>((resolve, reject) => {
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    let retryTimer: NodeJS.Timeout | undefined;
    const finish = (outcome: { view: RequestView } | { error: SignExit }) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(retryTimer);
      socket.off();
      socket.io.off();
      socket.close();
      if ('view' in outcome) resolve(outcome.view);
      else reject(outcome.error);
    };

    if (options.timeoutMs !== undefined) {
      timer = setTimeout(
        () => finish({ error: new SignExit(EXIT.timeout, `--timeout passed: signing request ${requestId} is still ${view.workflowStatus}. It goes on; re-running with the same idempotency key follows it again`) }),
        options.timeoutMs,
      );
    }

    function command<R>(name: string, input: unknown): Promise<CommandAck<R>> {
      return new Promise((done) => {
        socket.timeout(COMMAND_TIMEOUT_MS).emit('command', name, input, (error: Error | null, ack: CommandAck) => {
          done(error ? { ok: false, error: { code: 'UNAVAILABLE', message: error.message } } : (ack as CommandAck<R>));
        });
      });
    }

    /** Access problems end the run; anything else waits for the next connection. */
    function failOn(ack: CommandAck, doing: string): boolean {
      if (ack.ok) return false;
      const { code, message } = ack.error;
      if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN') finish({ error: new SignExit(EXIT.auth, `${doing}: ${code}: ${message}`) });
      else if (code === 'NOT_FOUND') finish({ error: new SignExit(EXIT.refused, `${doing}: ${message}`) });
      return true;
    }

    function onlineApprovers(): Array<{ name: string; looking: boolean }> {
      if (!approvers || view.workflowStatus !== 'WaitingForApproval') return [];
      const decided = new Set([...view.approvals, ...view.denials].map((d) => d.userId));
      const byUser = new Map<string, { name: string; looking: boolean }>();
      for (const entry of online) {
        if (!approvers.includes(entry.userId) || decided.has(entry.userId) || entry.userId === view.submitterId) continue;
        const looking = entry.page === `/requests/${requestId}` || (byUser.get(entry.userId)?.looking ?? false);
        byUser.set(entry.userId, { name: entry.name, looking });
      }
      return [...byUser.values()].sort((a, b) => a.name.localeCompare(b.name));
    }
    const onlineParts = () => onlineApprovers().map((a) => `${a.name} ${a.looking ? 'is looking at the request' : 'is online'}`);

    function tellPresence() {
      if (view.workflowStatus !== 'WaitingForApproval' || !approvers) return;
      const parts = onlineParts();
      const summary = parts.join(' · ') || 'no approver is online';
      if (summary === onlineSummary) return;
      onlineSummary = summary;
      reporter.step(summary);
    }

    function apply(next: RequestView) {
      if (next.version !== -1 && view.version !== -1 && next.version <= view.version) return;
      const before = view;
      // Keep what only the socket shape carries.
      view = { ...next, projectId: next.projectId ?? before.projectId, policyId: next.policyId ?? before.policyId, submitterId: next.submitterId ?? before.submitterId };
      const known = new Set(before.approvals.map((d) => d.userId));
      const approved = view.approvals.filter((d) => !known.has(d.userId)).map((d) => `${d.name} approved${d.comment ? ` ("${d.comment}")` : ''}`);
      if (view.workflowStatus === 'WaitingForApproval' && (before.workflowStatus !== view.workflowStatus || approved.length)) {
        const parts = onlineParts();
        onlineSummary = parts.join(' · ') || (approvers ? 'no approver is online' : '');
        reporter.step([describeStatus(view), ...approved, ...parts].join(' · '));
      } else {
        for (const line of approved) reporter.step(line);
        if (before.workflowStatus !== view.workflowStatus) reporter.step(describeStatus(view));
      }
      const escalated = escalationStep(before, view);
      if (escalated) reporter.step(escalated);
      if (view.isFinalStatus) finish({ view });
    }

    /** Drops what was seen already (a resume may send an event twice) and remembers the newest seq. */
    const fresh = (seq: number) => {
      if (lastSeq !== undefined && seq <= lastSeq) return false;
      lastSeq = seq;
      return true;
    };

    socket.on('change', (event: ChangeEvent) => {
      if (!fresh(event.seq)) return;
      if (event.entity === 'signingRequest' && event.id === requestId && event.data) apply(viewOf(event.data as RequestView));
    });
    socket.on('audit', (event) => void fresh(event.seq));
    socket.on('notification', (event) => void fresh(event.seq));
    socket.on('presence', (event) => {
      online = event.online;
      tellPresence();
    });
    socket.on('revoked', ({ reason }) => finish({ error: new SignExit(EXIT.auth, `The server ended the connection: ${reason}`) }));

    socket.on('ready', (ready: ReadyEvent) => {
      lastSeq = Math.max(lastSeq ?? 0, ready.seq);
      connections += 1;
      manualRetries = 0;
      outage = false;
      if (connections === 1) reporter.step(`following signing request ${requestId} live`);
      else if (ready.resumed) reporter.step(`caught up on ${ready.replayed} missed event${ready.replayed === 1 ? '' : 's'}`);
      else reporter.step('the server no longer had every missed event: reading the request afresh');
      void (async () => {
        // One read per connection, not a poll: what changed before this connection (between the
        // upload and the first connect, or beyond what the server keeps for a resume).
        const got = await command<{ request: RequestView }>('request.get', { requestId });
        if (failOn(got, 'Reading the signing request') || !got.ok) return;
        apply(viewOf(got.result.request));
        if (approvers === null && view.projectId) {
          const policies = await command<Array<{ id: string; approvers: string[] }>>('policy.list', { projectId: view.projectId });
          // Without config:read the steps just leave out who is online.
          approvers = policies.ok ? (policies.result.find((p) => p.id === view.policyId)?.approvers ?? []) : [];
        }
        // The console shows the pipeline as watching this request.
        const presence = await command<{ online: PresenceEntry[] }>('presence.update', { page: `/requests/${requestId}` });
        if (presence.ok) online = presence.result.online;
        tellPresence();
      })();
    });

    // The server replays what this client missed right after connecting, before `ready`.
    socket.on('connect', () => {
      if (connections > 0) reporter.step(`reconnected; resuming after event ${lastSeq}`);
    });

    const lost = (why: string) => {
      if (outage || finished) return;
      outage = true;
      reporter.step(`connection lost (${why}); reconnecting`);
    };
    socket.on('disconnect', (reason) => {
      if (finished) return;
      lost(reason);
      // A disconnect the server chose is not retried by Socket.IO itself.
      if (reason === 'io server disconnect') socket.connect();
    });
    socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
      if (finished) return;
      const code = error.data?.code;
      if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN') {
        finish({ error: new SignExit(EXIT.auth, `Connecting failed: ${code}: ${error.message}`) });
        return;
      }
      lost(error.message);
      // Refused by the server's handshake (e.g. UNAVAILABLE while it reconnects to Redis): Socket.IO
      // does not retry that by itself, so retry here, with the same backoff.
      if (!socket.active) {
        manualRetries += 1;
        const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** manualRetries) * (0.75 + Math.random() / 2);
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => socket.connect(), delay);
      }
    });
  });
}
