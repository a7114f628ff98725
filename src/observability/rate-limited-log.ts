import type { Logger } from './logger.js';

/** Options of {@link RateLimitedLog}. */
export interface RateLimitedLogOptions {
  /** At most one line per key in this many milliseconds. Default 10 s. */
  readonly intervalMs?: number;
  /** Level of the lines. Default `info`. */
  readonly level?: 'info' | 'warn';
  /** Clock in milliseconds, for tests. Default `performance.now`. */
  readonly now?: () => number;
}

/**
 * Logs an event at most once per key per interval (a handshake storm or a connection flood
 * must not become a log flood); the next line says how many were left out (`suppressed`).
 * Keys must come from a bounded set (a reason, a listener name), never from a peer.
 */
export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #level: 'info' | 'warn';
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(logger: Logger, options: RateLimitedLogOptions = {}) {
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#level = options.level ?? 'info';
    this.#now = options.now ?? (() => performance.now());
  }

  /** @returns true when the line was written */
  log(key: string, fields: Record<string, unknown>, message: string): boolean {
    const now = this.#now();
    const last = this.#last.get(key);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return false;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#last.set(key, { at: now, suppressed: 0 });
    this.#logger[this.#level](suppressed > 0 ? { ...fields, suppressed } : fields, message);
    return true;
  }
}
