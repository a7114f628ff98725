import type { experimental } from '@grpc/grpc-js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import type { X509Source } from '../identity/x509-source.js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * A grpc-js `CertificateProvider` that follows an {@link X509Source}: every identity the
 * source publishes becomes a CA update (the trust bundle) and an identity update (chain +
 * key). New listeners receive the latest value, always asynchronously, as grpc-js expects.
 *
 * Subscribes to the source lazily (first listener) and unsubscribes when the last one
 * leaves, so an unused provider holds no reference in the source.
 */
export class X509CertificateProvider implements experimental.CertificateProvider {
  readonly #source: X509Source;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  #latest: WorkloadIdentity | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(source: X509Source) {
    this.#source = source;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    this.#subscribe();
    this.#replay(() => this.#caListeners.has(listener) && listener(caUpdateOf(this.#latest)));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
    this.#maybeUnsubscribe();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    this.#subscribe();
    this.#replay(
      () => this.#identityListeners.has(listener) && listener(identityUpdateOf(this.#latest)),
    );
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
    this.#maybeUnsubscribe();
  }

  #subscribe(): void {
    if (this.#unsubscribe !== undefined) return;
    try {
      this.#latest = this.#source.current();
    } catch {
      // A closed source yields null updates: grpc-js then refuses to handshake (fail closed).
      this.#latest = undefined;
    }
    this.#unsubscribe = this.#source.onUpdate((identity) => this.#deliver(identity));
  }

  #maybeUnsubscribe(): void {
    if (this.#caListeners.size > 0 || this.#identityListeners.size > 0) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #deliver(identity: WorkloadIdentity): void {
    // The source replays the value read in #subscribe; listeners got it through #replay.
    if (identity === this.#latest) return;
    this.#latest = identity;
    const ca = caUpdateOf(identity);
    const id = identityUpdateOf(identity);
    for (const listener of [...this.#caListeners]) listener(ca);
    for (const listener of [...this.#identityListeners]) listener(id);
  }

  // grpc-js listeners must not be called synchronously from add*Listener.
  #replay(fn: () => void): void {
    queueMicrotask(() => {
      fn();
    });
  }
}

function caUpdateOf(
  identity: WorkloadIdentity | undefined,
): experimental.CaCertificateUpdate | null {
  return identity === undefined ? null : { caCertificate: Buffer.from(identity.bundlePem) };
}

function identityUpdateOf(
  identity: WorkloadIdentity | undefined,
): experimental.IdentityCertificateUpdate | null {
  return identity === undefined
    ? null
    : { certificate: Buffer.from(identity.chainPem), privateKey: Buffer.from(identity.keyPem) };
}
