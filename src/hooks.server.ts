// Errors while rendering a console page go to the node's logger as JSON (SvelteKit's default prints
// a plain "[404] GET /path" line to stderr). A 404 is not logged here: the request line already says it.
import type { HandleServerError } from '@sveltejs/kit';
import { serverLog } from '$lib/shared/serverLog';

export const handleError: HandleServerError = ({ error, event, status, message }) => {
  if (status === 404) return;
  const log = serverLog();
  const fields = { status, route: event.route.id ?? 'unmatched', err: error };
  if (log) log(status >= 500 ? 'error' : 'warn', fields, `console page failed: ${message}`);
  else console.error(message, error);
};
