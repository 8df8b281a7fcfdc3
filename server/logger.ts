// Structured logs. Known secret-bearing fields are redacted by pino before anything is written.
// When stdout is not a terminal every line is one JSON object (for a log collector); on a terminal
// pino-pretty makes the same records readable.
import { createRequire } from 'node:module';
import { pino, type DestinationStream } from 'pino';

export interface LoggerOptions {
  /** Where lines go (default: stdout). */
  destination?: DestinationStream;
  /** Human-readable lines instead of JSON (default: when stdout is a terminal). */
  pretty?: boolean;
}

/** True when stdout is a terminal: readable output there, JSON lines everywhere else. */
export function stdoutIsTerminal(): boolean {
  return process.stdout.isTTY === true;
}

export function createLogger(level: string, options: LoggerOptions = {}) {
  const pretty = options.pretty ?? (options.destination === undefined && stdoutIsTerminal());
  return pino(
    {
      level,
      redact: {
        paths: [
          'password',
          '*.password',
          'token',
          '*.token',
          'secret',
          '*.secret',
          // PKCS#11 PINs (a signer's pkcs11 settings, the token configuration)
          'pin',
          '*.pin',
          '*.*.pin',
          'req.headers.cookie',
          'req.headers.authorization',
          'headers.cookie',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    pretty ? prettyStream(options.destination) : options.destination,
  );
}

/** pino-pretty as a plain stream in this thread (no transport worker); loaded only for terminals. */
function prettyStream(destination?: DestinationStream): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: object) => DestinationStream;
  return pretty({ colorize: destination === undefined, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: destination ?? 1, sync: true });
}

export type Logger = ReturnType<typeof createLogger>;
