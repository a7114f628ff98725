import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

/** Paths pino removes from every log line: credentials must never reach a log. */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  '*.authorization',
  'token',
  'accessToken',
  'access_token',
  '*.token',
  '*.accessToken',
  '*.access_token',
  'key',
  'keyPem',
  'privateKey',
  '*.key',
  '*.keyPem',
  '*.privateKey',
  'client_secret',
  '*.client_secret',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level. Default `info` (`silent` in tests). */
  level?: LevelWithSilent;
  /** Where lines go. Default stdout (asynchronous writes, flushed on exit). */
  destination?: DestinationStream;
}

/** The root JSON logger; components take `logger.child({ component: '…' })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? 'info',
    base: { service: 'certbound' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // stdout asynchronously: a synchronous write(2) per line cost ~20 µs per request with the
  // access log on. pino flushes this destination on process exit.
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(config, destination);
}

/** A logger that writes nothing (library default). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export type { Logger };
