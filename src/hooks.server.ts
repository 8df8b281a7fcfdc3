// Server hooks of the console.
// - handle: every page carries the CSP of svelte.config.js. Its connect-src 'self' covers the
//   console's WebSocket to the same host only in browsers that follow CSP 3; the page's own host is
//   named with ws:// and wss:// as well (the host the browser asked for: the same origin, whatever
//   proxy is in front).
// - handleError: errors while rendering a page go to the node's logger as JSON (SvelteKit's default
//   prints a plain "[404] GET /path" line to stderr). A 404 is not logged here: the request line
//   already says it.
import type { Handle, HandleServerError } from '@sveltejs/kit';
import { serverLog } from '$lib/shared/serverLog';

const CSP = 'content-security-policy';
/** A host as a URL carries it (name or address, optional port): nothing that could end a directive. */
const PLAIN_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export const handle: Handle = async ({ event, resolve }) => {
  const response = await resolve(event);
  const policy = response.headers.get(CSP);
  const host = event.url.host;
  if (policy && PLAIN_HOST.test(host)) {
    response.headers.set(CSP, policy.replace("connect-src 'self'", `connect-src 'self' ws://${host} wss://${host}`));
  }
  return response;
};

export const handleError: HandleServerError = ({ error, event, status, message }) => {
  if (status === 404) return;
  const log = serverLog();
  const fields = { status, route: event.route.id ?? 'unmatched', err: error };
  if (log) log(status >= 500 ? 'error' : 'warn', fields, `console page failed: ${message}`);
  else console.error(message, error);
};
