import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Structured logs, one line per event. Paths that can hold a credential are censored by name here;
 * no code path is meant to log a secret in the first place, so this is the second line of defence.
 */
const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.id_token',
  'access_token',
  'refresh_token',
  'client_secret',
  'token',
  '*.token',
];

/** Creates the gateway's logger; tests pass a destination to read what was logged. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'idp-token-gateway' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}

export type { Logger };
