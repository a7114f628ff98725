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

// RFC 9449 §8.1: nonce = 1*NQCHAR.
const NQCHARS = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/;

/**
 * The server nonce an error carries for its answer (`DPoP-Nonce` header or gRPC
 * metadata), validated so it can never inject a header; undefined when there is none.
 */
export function dpopNonceOf(details: Readonly<Record<string, unknown>>): string | undefined {
  const nonce = details[DPOP_DETAILS.nonce];
  return typeof nonce === 'string' && NQCHARS.test(nonce) ? nonce : undefined;
}
