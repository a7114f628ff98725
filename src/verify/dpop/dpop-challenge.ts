/**
 * Keys of `CertboundError.details` that carry what an answer needs for its RFC 9449 §7.1
 * challenge (HTTP `WWW-Authenticate` + `DPoP-Nonce`, gRPC trailers). Values are secret-free.
 * The proof checks set `algs`, `nonce`, `scheme`; the pipeline sets `challenge` and `algs`
 * on every refusal of a route that accepts DPoP.
 */
export const DPOP_DETAILS = {
  /** Space-separated allowed proof algorithms: `DPoP algs="…"`. */
  algs: 'dpopAlgs',
  /** A fresh server nonce to send as `DPoP-Nonce` (RFC 9449 §8.1). */
  nonce: 'dpopNonce',
  /** `DPoP` or `Bearer`: the scheme the request used (its error goes in that challenge). */
  scheme: 'authScheme',
  /** The schemes the route accepts: `DPoP`, or `Bearer, DPoP` (both challenges are sent). */
  challenge: 'challenge',
} as const;
