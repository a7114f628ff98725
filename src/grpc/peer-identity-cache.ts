import { X509Certificate } from 'node:crypto';
import { peerIdentityOf, type PeerIdentity } from '../binding/peer-identity.js';
import { thumbprintOf } from '../binding/thumbprint.js';

/**
 * Remembers the {@link PeerIdentity} of recently seen peer certificates, keyed by their
 * thumbprint. grpc-js hands out a fresh certificate object on every call, so the cache key
 * is the digest of the DER (≈1 µs) and what it saves is the X.509 parse for the SPIFFE ID.
 */
export class PeerIdentityCache {
  readonly #entries = new Map<string, PeerIdentity>();
  readonly #max: number;

  constructor(maxEntries = 1024) {
    this.#max = maxEntries;
  }

  /** Identity of the certificate with DER `der`. */
  of(der: Uint8Array): PeerIdentity {
    const thumbprint = thumbprintOf(der);
    const hit = this.#entries.get(thumbprint);
    if (hit !== undefined) return hit;
    const identity = peerIdentityOf(new X509Certificate(der));
    this.#entries.set(thumbprint, identity);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return identity;
  }
}
