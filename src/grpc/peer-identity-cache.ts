import { clientPeerOfDer } from '../binding/connection-peer-identity.js';
import type { PeerIdentity } from '../binding/peer-identity.js';
import { thumbprintOf } from '../binding/thumbprint.js';
import type { CertboundError } from '../errors.js';

/**
 * Remembers the {@link PeerIdentity} of recently seen peer certificates — or the refusal of
 * one that may not act as a client leaf — keyed by their thumbprint. grpc-js hands out a
 * fresh certificate object on every call, so the cache key is the digest of the DER (≈1 µs)
 * and what it saves is the X.509 parse and the leaf check.
 */
export class PeerIdentityCache {
  readonly #entries = new Map<string, PeerIdentity | CertboundError>();
  readonly #max: number;

  constructor(maxEntries = 1024) {
    this.#max = maxEntries;
  }

  /**
   * Identity of the verified client certificate with DER `der`.
   *
   * @throws CertboundError `ERR_PEER_CERT_NOT_LEAF`, `ERR_PEER_CERT_WEAK_KEY` or
   *   `ERR_PEER_CERT_NOT_CLIENT` when the certificate is refused as a client leaf
   */
  of(der: Uint8Array): PeerIdentity {
    const thumbprint = thumbprintOf(der);
    let entry = this.#entries.get(thumbprint);
    if (entry === undefined) {
      entry = clientPeerOfDer(der);
      this.#entries.set(thumbprint, entry);
      if (this.#entries.size > this.#max) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
    }
    if (entry instanceof Error) throw entry;
    return entry;
  }
}
