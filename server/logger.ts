// Structured logs. Known secret-bearing fields are redacted by pino before anything is written.
import { pino } from 'pino';

/** `destination`: where the lines go (stdout by default; tests collect them to look for secrets). */
export function createLogger(level: string, destination?: pino.DestinationStream) {
  const options: pino.LoggerOptions = {
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
  };
  return destination ? pino(options, destination) : pino(options);
}

export type Logger = ReturnType<typeof createLogger>;
