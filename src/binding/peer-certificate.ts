import type { PeerCertificate } from 'node:tls';

/**
 * The members of a TLS socket read here: a node:tls `TLSSocket`, or the socket proxy of an
 * HTTP/2 session (`session.socket`).
 */
export interface VerifiedPeerSocket {
  /** True once TLS verified the peer's chain against the trust bundle. */
  readonly authorized?: boolean;
  getPeerCertificate?(detailed?: false): PeerCertificate | Record<string, never> | null;
}

/**
 * DER of the certificate the TLS stack verified for the peer of `socket`, or undefined when
 * the peer is not verified (`authorized !== true`) or sent none.
 *
 * This is the one place certbound reads a peer certificate from a socket. It uses
 * `getPeerCertificate(false).raw`, not `getPeerX509Certificate()`: on Node 20 the latter
 * leaks ≈5 KB of native memory per call (RSS grows linearly with connection churn).
 * Does not parse the certificate.
 */
export function verifiedPeerDerOf(socket: VerifiedPeerSocket): Uint8Array | undefined {
  // Fail closed: only a certificate that TLS verified against the bundle counts.
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function')
    return undefined;
  const cert = socket.getPeerCertificate(false);
  const raw = (cert as Partial<PeerCertificate> | null)?.raw;
  return raw instanceof Uint8Array && raw.length > 0 ? raw : undefined;
}
