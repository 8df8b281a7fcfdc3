// How the console's socket connects, in a plain module so the failover tests connect the same way.
// No URL is given: Socket.IO then uses the page's own origin, so every reconnect goes back through
// whatever serves the console (behind a load balancer: to any live node), never to one node's
// address. Reconnection keeps Socket.IO's defaults: forever, 1 s growing to 5 s, jittered by half.
import type { ManagerOptions, SocketOptions } from 'socket.io-client';

export const SOCKET_OPTIONS = {
  path: '/socket.io',
  // One TCP connection per socket, so nothing needs to stay sticky behind a load balancer.
  transports: ['websocket'],
  withCredentials: true,
} satisfies Partial<ManagerOptions & SocketOptions>;

/** When the server closed the socket without revoking it, the console tries again after this long. */
export const SERVER_DISCONNECT_RETRY_MS = 2_000;
