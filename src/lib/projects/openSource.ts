// Open Source organizations (SPEC §3): project metadata and certificates are the instance
// operators' to manage, who act there as the organization's support user.
import type { Me } from '$lib/shared/results';
import { operatorsOnly as operatorsOnlyIn } from '$lib/shared/rules';

/** Whether project metadata and certificates are the operators' here, not mine. */
export function operatorsOnly(me: Me): boolean {
  return operatorsOnlyIn(me.org, me.actor.type);
}

export const OPEN_SOURCE_NOTE = 'This is an Open Source organization: the instance operators manage project metadata and certificates.';
