import { hash } from 'node:crypto';

/** What the cache keeps of a token whose signature and claims have been verified. */
export interface VerifiedEntry {
  readonly claims: Readonly<Record<string, unknown>>;
  /** Milliseconds since the epoch after which the entry is dead (exp + tolerance). */
  readonly deadAt: number;
}

/**
 * Bounded LRU of verified tokens, keyed by SHA-256 of the token (the token itself is
 * never kept as a key). A hit only saves signature work: callers still check expiry and
 * the certificate binding on every call.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, VerifiedEntry>();
  readonly #max: number;
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  /** Cache key of a token (one-shot `hash`: half the cost of a `Hash` object). */
  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /** The live entry for `key`, or undefined (dead entries are dropped). */
  get(key: string, now: number): VerifiedEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (now >= entry.deadAt) {
      this.#entries.delete(key);
      this.misses++;
      return undefined;
    }
    // Refresh recency: Map iteration order is insertion order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.hits++;
    return entry;
  }

  /** Stores an entry, evicting the least recently used one when full. */
  set(key: string, entry: VerifiedEntry): void {
    if (this.#max === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Drops every entry. */
  clear(): void {
    this.#entries.clear();
  }
}
