// The signing-request lifecycle of SPEC §4, shared by server and UI.

export const WORKFLOW_STATUSES = [
  'Submitted',
  'WaitingForApproval',
  'QueuedForProcessing',
  'Processing',
  'Completed',
  'ProcessingFailed',
  'Denied',
  'Canceled',
] as const;
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];

/** How each status reads for people (console, notifications). */
export const STATUS_LABELS: Record<WorkflowStatus, string> = {
  Submitted: 'Submitted',
  WaitingForApproval: 'Waiting for approval',
  QueuedForProcessing: 'Queued',
  Processing: 'Processing',
  Completed: 'Completed',
  ProcessingFailed: 'Failed',
  Denied: 'Denied',
  Canceled: 'Canceled',
};

export const STATUSES = ['Submitted', 'WaitingForApproval', 'QueuedForProcessing', 'InProgress', 'Completed', 'Failed', 'Denied', 'Canceled'] as const;
export type RequestStatus = (typeof STATUSES)[number];

/** The coarse `status` of each `workflowStatus`. */
export const STATUS_OF: Record<WorkflowStatus, RequestStatus> = {
  Submitted: 'Submitted',
  WaitingForApproval: 'WaitingForApproval',
  QueuedForProcessing: 'QueuedForProcessing',
  Processing: 'InProgress',
  Completed: 'Completed',
  ProcessingFailed: 'Failed',
  Denied: 'Denied',
  Canceled: 'Canceled',
};

export const FINAL_STATUSES: readonly RequestStatus[] = ['Completed', 'Failed', 'Denied', 'Canceled'];

export function isFinalStatus(status: RequestStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** Statuses from which the submitter or an admin may still cancel: before processing. */
export const CANCELABLE: readonly WorkflowStatus[] = ['Submitted', 'WaitingForApproval', 'QueuedForProcessing'];

/** Statuses a request may move to from each status; anything else is refused. */
export const TRANSITIONS: Record<WorkflowStatus, readonly WorkflowStatus[]> = {
  Submitted: ['WaitingForApproval', 'QueuedForProcessing', 'Canceled', 'Denied'],
  WaitingForApproval: ['QueuedForProcessing', 'Denied', 'Canceled'],
  QueuedForProcessing: ['Processing', 'Canceled'],
  Processing: ['Completed', 'ProcessingFailed'],
  Completed: [],
  ProcessingFailed: [],
  Denied: [],
  Canceled: [],
};

/**
 * What a project webhook can subscribe to: a request entering each status (a new request enters
 * WaitingForApproval or QueuedForProcessing directly: every check happens at submission, so
 * `Submitted` is never an event of its own).
 */
export const WEBHOOK_EVENTS = [
  'request.waitingForApproval',
  'request.queuedForProcessing',
  'request.processing',
  'request.completed',
  'request.processingFailed',
  'request.denied',
  'request.canceled',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** What a webhook created without `events` (and every webhook made before events existed) hears: the final statuses. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = ['request.completed', 'request.processingFailed', 'request.denied', 'request.canceled'];

/** The event of a request entering `workflowStatus`, or null for `Submitted`. */
export function webhookEventOf(workflowStatus: WorkflowStatus): WebhookEvent | null {
  const event = `request.${workflowStatus.charAt(0).toLowerCase()}${workflowStatus.slice(1)}`;
  return (WEBHOOK_EVENTS as readonly string[]).includes(event) ? (event as WebhookEvent) : null;
}
