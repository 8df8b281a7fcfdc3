// A project's repository URL is what origin verification checks build identities against, so only
// those who may edit signing policies set it (SPEC §3); the forms show it read-only to the others.
import { REPOSITORY_URL_PERMISSION } from '$lib/shared/permissions';

export const REPOSITORY_URL_HINT =
  `Origin verification trusts the repository URL, so only admins and the owner (${REPOSITORY_URL_PERMISSION}) set or change it.`;
