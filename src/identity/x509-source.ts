import type { CertboundError } from '../errors.js';
import type { WorkloadIdentity } from './workload-identity.js';

/**
 * A rotating workload identity, after go-spiffe's `X509Source`: `current()` always has a
 * valid value once the source exists; updates are checked before they are published.
 */
export interface X509Source {
  /**
   * The identity in force.
   *
   * @throws CertboundError ERR_SOURCE_CLOSED after {@link X509Source.close}.
   */
  current(): WorkloadIdentity;
  /**
   * Calls `listener` with every new identity; a new listener receives the current one
   * right away (asynchronously). Returns the unsubscribe function.
   */
  onUpdate(listener: (identity: WorkloadIdentity) => void): () => void;
  /** Calls `listener` for every rejected update (the previous identity stays). */
  onError(listener: (error: CertboundError) => void): () => void;
  /** Stops watchers and timers; afterwards `current()` throws ERR_SOURCE_CLOSED. */
  close(): Promise<void>;
}
