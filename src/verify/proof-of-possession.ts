import { checkBinding } from '../binding/check-binding.js';
import type { PeerIdentity } from '../binding/peer-identity.js';
import { CertboundError } from '../errors.js';

/** What the proof step may read of a request (filled in by the transport). */
export interface ProofContext {
  /** Verified certificate of this connection (once per connection), or none. */
  readonly peer: PeerIdentity | null | undefined;
  /**
   * Why there is no peer, when the transport knows (a certificate refused as a client
   * leaf: `ERR_PEER_CERT_NOT_LEAF`, …); default `ERR_PEER_CERT_MISSING`.
   */
  readonly peerError?: CertboundError;
}

/**
 * The proof-of-possession step of the inbound pipeline: shows that the caller holds the
 * key the token is bound to. mTLS (`cnf.x5t#S256` = the connection's certificate, RFC 8705
 * §3) today; a certificate forwarded by a trusted hop and DPoP (`cnf.jkt`) are further
 * implementations of this interface.
 */
export interface ProofOfPossession {
  /** `mtls`, `forwarded`, `dpop` — for logs and metrics. */
  readonly kind: string;
  /**
   * Cheap checks before any token work (e.g. a certificate is present), so a request that
   * can never pass costs nothing.
   *
   * @throws CertboundError
   */
  precheck(request: ProofContext): void;
  /**
   * Checks the binding of verified `claims` to this request; returns the identity the
   * token is bound to (it becomes the principal's thumbprint and SPIFFE ID).
   *
   * @throws CertboundError `ERR_BINDING_MISMATCH`, `ERR_CNF_MISSING`, …
   */
  prove(claims: Readonly<Record<string, unknown>>, request: ProofContext): PeerIdentity;
}

/** RFC 8705 §3: the token's `cnf.x5t#S256` equals the certificate on this connection. */
export const mtlsProof: ProofOfPossession = {
  kind: 'mtls',
  precheck(request) {
    if (request.peer === null || request.peer === undefined)
      throw request.peerError ?? new CertboundError('ERR_PEER_CERT_MISSING');
  },
  prove(claims, request) {
    const peer = request.peer;
    if (peer === null || peer === undefined) throw new CertboundError('ERR_PEER_CERT_MISSING');
    checkBinding(claims, peer.thumbprint);
    return peer;
  },
};
