// Open Source organizations (SPEC §3): project metadata and certificates are the instance
// operators' to manage, who act there as the organization's support user.
import type { Me } from '$lib/realtime/results';

export function operatorsOnly(me: Me): boolean {
  return me.org.openSource && me.actor.type !== 'support';
}

export const OPEN_SOURCE_NOTE = 'This is an Open Source organization: the instance operators manage project metadata and certificates.';
