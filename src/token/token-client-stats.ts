/** Counters of a {@link TokenClient}, for metrics and tests. */
export interface TokenClientStats {
  /** HTTP requests sent to the AS, by endpoint. */
  readonly asRequests: { readonly discovery: number; readonly token: number };
  /** `get` calls answered from the cache. */
  readonly hits: number;
  /** `get` calls that needed a token request (or joined one in flight). */
  readonly misses: number;
  /** Background refreshes started ahead of expiry (or retries after a failure). */
  readonly refreshes: number;
  /** Token requests started after a rotation for the keys in use. */
  readonly prefetches: number;
  /** Token requests that failed. */
  readonly failures: number;
  /** Cached tokens. */
  readonly cached: number;
}

/** The running counts behind {@link TokenClientStats}, shared by the client and its cache. */
export interface TokenCounts {
  discovery: number;
  token: number;
  hits: number;
  misses: number;
  refreshes: number;
  prefetches: number;
  failures: number;
}

/** All counts at zero. */
export function zeroTokenCounts(): TokenCounts {
  return { discovery: 0, token: 0, hits: 0, misses: 0, refreshes: 0, prefetches: 0, failures: 0 };
}
