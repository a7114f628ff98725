import { pino, type Logger } from 'pino';

/**
 * The `identity` child logger of `parent`, or a silent one. Identity code logs codes,
 * paths and thumbprints only — never key material.
 */
export function identityLogger(parent: Logger | undefined): Logger {
  return (parent ?? pino({ level: 'silent' })).child({ component: 'identity' });
}

/**
 * Remembers the last failure so a failure that repeats (every poll of the same bad file)
 * is logged once, and a new, different one is logged again.
 */
export class FailureLog {
  #last: string | undefined;

  constructor(private readonly logger: Logger) {}

  /** Logs `error` at warn level unless it is the same as the previous failure. */
  failure(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.#last === key) return;
    this.#last = key;
    this.logger.warn(fields, message);
  }

  /** Forgets the previous failure (after a success). */
  reset(): void {
    this.#last = undefined;
  }
}
