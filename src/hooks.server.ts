// Every page carries the CSP of svelte.config.js. Its connect-src 'self' covers the console's
// WebSocket to the same host only in browsers that follow CSP 3; the page's own host is named with
// ws:// and wss:// as well (the host the browser asked for: the same origin, whatever proxy is in front).
import type { Handle } from '@sveltejs/kit';

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
