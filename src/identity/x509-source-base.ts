import { CertboundError } from '../errors.js';
import type { WorkloadIdentity } from './workload-identity.js';
import type { X509Source } from './x509-source.js';

/**
 * Listener bookkeeping shared by every {@link X509Source}: atomic swap, replay of the
 * latest value to new listeners (asynchronously, as grpc-js providers do), close.
 */
export abstract class X509SourceBase implements X509Source {
  #identity: WorkloadIdentity | undefined;
  #closed = false;
  readonly #updateListeners = new Set<(identity: WorkloadIdentity) => void>();
  readonly #errorListeners = new Set<(error: CertboundError) => void>();

  current(): WorkloadIdentity {
    if (this.#closed) throw new CertboundError('ERR_SOURCE_CLOSED');
    if (this.#identity === undefined)
      throw new CertboundError('ERR_SOURCE_CLOSED', 'The source has no identity yet.');
    return this.#identity;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  onUpdate(listener: (identity: WorkloadIdentity) => void): () => void {
    this.#updateListeners.add(listener);
    const snapshot = this.#identity;
    if (snapshot !== undefined && !this.#closed) {
      queueMicrotask(() => {
        // Skip the replay when a newer value was already delivered or the listener left.
        if (this.#updateListeners.has(listener) && this.#identity === snapshot) listener(snapshot);
      });
    }
    return () => this.#updateListeners.delete(listener);
  }

  onError(listener: (error: CertboundError) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Swaps in a checked identity and notifies listeners. */
  protected publish(identity: WorkloadIdentity): void {
    if (this.#closed) return;
    this.#identity = identity;
    for (const listener of [...this.#updateListeners]) {
      try {
        listener(identity);
      } catch {
        // A failing listener must not stop the others from rotating.
      }
    }
  }

  /** Reports a rejected update; the current identity stays. */
  protected reject(error: CertboundError): void {
    for (const listener of [...this.#errorListeners]) {
      try {
        listener(error);
      } catch {
        // Listeners are observers only.
      }
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#updateListeners.clear();
    this.#errorListeners.clear();
    return Promise.resolve();
  }
}
