// Structured logs. Known secret-bearing fields are redacted by pino before anything is written.
import { pino, type DestinationStream } from 'pino';

/** Writes to stdout, or to `destination` (tests read what a node logs). */
export function createLogger(level: string, destination?: DestinationStream) {
  return pino({
    level,
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'req.headers.cookie',
        'req.headers.authorization',
        'headers.cookie',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
  }, destination);
}

export type Logger = ReturnType<typeof createLogger>;
