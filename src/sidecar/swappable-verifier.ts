import type { Verifier, VerifierStats } from '../verify/create-verifier.js';

/**
 * A {@link Verifier} that reads through to the one in force, so a configuration reload can
 * swap issuers, keys and verifier limits under running listeners: every request reads
 * `pipeline` afresh, nothing captures the verifier it started with.
 */
export class SwappableVerifier implements Verifier {
  #current: Verifier;
  readonly #retired = new Set<Verifier>();
  // Counters of replaced verifiers, so the cache counters exported stay monotonic.
  #base = { cacheHits: 0, cacheMisses: 0 };

  constructor(initial: Verifier) {
    this.#current = initial;
  }

  get pipeline(): Verifier['pipeline'] {
    return this.#current.pipeline;
  }

  /**
   * Puts `next` in force. The replaced verifier may still be finishing requests that began
   * before the swap: it is closed after `retireAfterMs` (or by {@link close}).
   */
  swap(next: Verifier, retireAfterMs: number): void {
    const old = this.#current;
    const s = old.stats();
    this.#base = {
      cacheHits: this.#base.cacheHits + s.cacheHits,
      cacheMisses: this.#base.cacheMisses + s.cacheMisses,
    };
    this.#current = next;
    this.#retired.add(old);
    setTimeout(() => {
      if (this.#retired.delete(old)) void old.close();
    }, retireAfterMs).unref();
  }

  verify(...args: Parameters<Verifier['verify']>): ReturnType<Verifier['verify']> {
    return this.#current.verify(...args);
  }

  stats(): VerifierStats {
    const s = this.#current.stats();
    return {
      cacheHits: this.#base.cacheHits + s.cacheHits,
      cacheMisses: this.#base.cacheMisses + s.cacheMisses,
      cacheSize: s.cacheSize,
    };
  }

  ready(): ReturnType<Verifier['ready']> {
    return this.#current.ready();
  }

  refreshKeys(): Promise<void> {
    return this.#current.refreshKeys();
  }

  async close(): Promise<void> {
    const all = [this.#current, ...this.#retired];
    this.#retired.clear();
    await Promise.all(all.map((v) => v.close()));
  }
}
