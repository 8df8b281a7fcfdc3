// How the console's server side (SvelteKit hooks, bundled into build/handler.js) logs through the
// node's logger without importing server/: the node puts a log function on globalThis under this key
// before it loads the handler.
export const SERVER_LOG_KEY = Symbol.for('signet.serverLog');

export type ServerLog = (level: 'warn' | 'error', fields: Record<string, unknown>, message: string) => void;

export function serverLog(): ServerLog | undefined {
  return (globalThis as Record<symbol, unknown>)[SERVER_LOG_KEY] as ServerLog | undefined;
}
