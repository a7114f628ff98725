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
    // `"level":"info"`, not 30: what log pipelines (Loki, Elastic, Cloud Logging) key on.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.destination !== undefined) return pino(config, options.destination);
  // stdout asynchronously and in batches: one write(2) per access-log line cost ~30 µs of
  // CPU per request. Lines are flushed when 8 KiB are buffered, every 250 ms, and on exit
  // (pino flushes its destination then), so a quiet sidecar's lines still appear promptly.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 8192 });
  const timer = setInterval(() => {
    try {
      destination.flush();
    } catch {
      // Not ready yet or already closed: the next tick (or exit) flushes.
    }
  }, 250);
  timer.unref();
  return pino(config, destination);
}

/** A logger that writes nothing (library default). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export type { Logger };
