import { CertboundError } from '../../errors.js';
import { DPOP_DEFAULTS } from './dpop-options.js';
import type { ReplayStore } from './replay-store.js';

/** Options of {@link createMemoryReplayStore}. */
export interface MemoryReplayStoreOptions {
  /** Most entries held. Default 100 000. */
  readonly maxEntries?: number | undefined;
  /** Clock, ms. */
  readonly now?: (() => number) | undefined;
}

/**
 * The in-process replay store (one replica). Bounded: every entry has the same TTL, so the
 * Map's insertion order is its expiry order and expired entries are swept from the front.
 * When full of live entries it refuses (`ERR_DPOP_REPLAY_STORE_UNAVAILABLE`) rather than
 * evict one: an evicted (jkt, jti) could be replayed.
 */
export function createMemoryReplayStore(options: MemoryReplayStoreOptions = {}): ReplayStore {
  const maxEntries = options.maxEntries ?? DPOP_DEFAULTS.memoryMaxEntries;
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new TypeError('maxEntries must be a positive integer');
  const now = options.now ?? Date.now;
  const expiries = new Map<string, number>();
  const sweep = (at: number): void => {
    for (const [key, expiresAt] of expiries) {
      if (expiresAt > at) break;
      expiries.delete(key);
    }
  };
  return {
    kind: 'memory',
    remember(key, ttlMs) {
      const at = now();
      sweep(at);
      const seen = expiries.get(key);
      if (seen !== undefined && seen > at) return Promise.resolve(false);
      if (expiries.size >= maxEntries)
        return Promise.reject(
          new CertboundError(
            'ERR_DPOP_REPLAY_STORE_UNAVAILABLE',
            `The in-memory DPoP replay store is full (${maxEntries} live proofs); raise verify.dpop.replayStore.memory.maxEntries or use Redis.`,
          ),
        );
      expiries.delete(key);
      expiries.set(key, at + ttlMs);
      return Promise.resolve(true);
    },
  };
}
