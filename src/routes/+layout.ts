// The console is a client-side app over the socket: nothing to render on the server.
export const ssr = false;
