// How the signing-request lifecycle (SPEC §4) reads in the console.
import { STATUS_LABELS, WORKFLOW_STATUSES, type WorkflowStatus } from '$lib/shared/signing';
import type { SigningRequest } from '$lib/shared/entities';

export type Tone = 'waiting' | 'active' | 'ok' | 'bad' | 'neutral';

export { STATUS_LABELS };

const TONES: Record<WorkflowStatus, Tone> = {
  Submitted: 'active',
  WaitingForApproval: 'waiting',
  QueuedForProcessing: 'active',
  Processing: 'active',
  Completed: 'ok',
  ProcessingFailed: 'bad',
  Denied: 'bad',
  Canceled: 'neutral',
};

export function isWorkflowStatus(value: string | null | undefined): value is WorkflowStatus {
  return (WORKFLOW_STATUSES as readonly string[]).includes(value ?? '');
}

export function statusLabel(status: string): string {
  return isWorkflowStatus(status) ? STATUS_LABELS[status] : status;
}

export function statusTone(status: string): Tone {
  return isWorkflowStatus(status) ? TONES[status] : 'neutral';
}

export type StepState = 'done' | 'current' | 'todo' | 'failed' | 'skipped';

export interface LifecycleStep {
  label: string;
  state: StepState;
}

/**
 * The path a request takes, with where it stands: Submitted → (Approval) → Queued → Processing →
 * Completed, ending early in red when it is denied, canceled or fails.
 */
export function lifecycleSteps(request: SigningRequest): LifecycleStep[] {
  const needsApproval = request.requiredApprovals > 0;
  const path: Array<{ status: WorkflowStatus; label: string }> = [
    { status: 'Submitted', label: 'Submitted' },
    ...(needsApproval ? [{ status: 'WaitingForApproval' as const, label: 'Approval' }] : []),
    { status: 'QueuedForProcessing', label: 'Queued' },
    { status: 'Processing', label: 'Signing' },
    { status: 'Completed', label: 'Completed' },
  ];
  const status = request.workflowStatus as WorkflowStatus;
  const endsBadly = status === 'Denied' || status === 'Canceled' || status === 'ProcessingFailed';
  if (!endsBadly) {
    const at = path.findIndex((step) => step.status === status);
    return path.map((step, i) => ({
      label: step.label,
      state: i < at || (status === 'Completed' && i === at) ? 'done' : i === at ? 'current' : 'todo',
    }));
  }
  // Where it stopped: a denial stops at approval, a failure while signing, a cancellation before processing.
  const stoppedAt =
    status === 'ProcessingFailed'
      ? 'Processing'
      : status === 'Denied'
        ? needsApproval ? 'WaitingForApproval' : 'Submitted'
        : request.approvals.length >= request.requiredApprovals && needsApproval
          ? 'QueuedForProcessing'
          : needsApproval ? 'WaitingForApproval' : 'QueuedForProcessing';
  const at = path.findIndex((step) => step.status === stoppedAt);
  return [
    ...path.slice(0, at).map((step) => ({ label: step.label, state: 'done' as const })),
    { label: STATUS_LABELS[status], state: 'failed' as const },
  ];
}
