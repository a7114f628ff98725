/**
 * Where DPoP proofs already seen are remembered, keyed by (jkt, jti), for the acceptance
 * window (RFC 9449 §11.1). One store for every replica behind a Service (Redis) makes a
 * proof replayed to another replica fail too.
 */
export interface ReplayStore {
  /** `memory` or `redis`, for logs and metrics. */
  readonly kind: string;
  /**
   * Records `key` for `ttlMs` if it is new. Resolves `true` when it was new, `false` when it
   * was already there (a replay).
   *
   * @throws CertboundError `ERR_DPOP_REPLAY_STORE_UNAVAILABLE` when the store cannot answer
   */
  remember(key: string, ttlMs: number): Promise<boolean>;
  /** Readiness: undefined = ready, else why not (secret-free). */
  readinessProblem?(): string | undefined;
  close?(): Promise<void>;
}
