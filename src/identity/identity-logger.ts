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

  /**
   * Logs the failure (at `level`, default warn) unless it is the same as the previous one.
   *
   * @returns true when it was logged (a new, different failure)
   */
  failure(
    key: string,
    fields: Record<string, unknown>,
    message: string,
    level: 'warn' | 'error' = 'warn',
  ): boolean {
    if (this.#last === key) return false;
    this.#last = key;
    this.logger[level](fields, message);
    return true;
  }

  /**
   * Forgets the previous failure (after a success).
   *
   * @returns true when a failure was remembered (the success is a recovery)
   */
  reset(): boolean {
    const had = this.#last !== undefined;
    this.#last = undefined;
    return had;
  }
}
