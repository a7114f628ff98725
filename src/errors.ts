/**
 * The one error type of certbound, its stable codes, and the single table that maps every
 * code to an HTTP status, an RFC 6750 error and a gRPC status.
 *
 * Messages never contain a token, a key or a whole certificate: callers may log them.
 */

/**
 * RFC 6750 §3.1 error codes, RFC 9449 §7.1/§12.2 `invalid_dpop_proof` and §8 `use_dpop_nonce`
 * (answered in a `DPoP` challenge), or `null` when the request carried no credentials at all.
 */
export type BearerErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | null;

/** gRPC status codes used by certbound (numeric values from grpc/status.h, no grpc import). */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** How one error code surfaces on each transport. */
export interface ErrorMapping {
  /** HTTP status answered by the proxy and the middleware. */
  readonly http: number;
  /** RFC 6750 `error` attribute of `WWW-Authenticate`, `null` to send a bare challenge. */
  readonly bearer: BearerErrorCode;
  /** gRPC status code answered by the interceptor and the proxy. */
  readonly grpc: number;
  /** One-line, secret-free explanation for operators (docs/errors.md is checked against it). */
  readonly summary: string;
  /**
   * RFC 9110 §10.2.3 `Retry-After` (seconds) on the HTTP answer, for transient outages a
   * retry can get past. Unset: no header.
   */
  readonly retryAfterSec?: number;
}

const S = GrpcCode;

/**
 * THE table: every code certbound can raise and how it is reported. Adding a code means
 * adding a row here; the type system makes the table exhaustive.
 */
export const ERROR_TABLE = {
  // Inbound request shape (RFC 6750 §2.1, §3.1)
  ERR_TOKEN_MISSING: {
    http: 401,
    bearer: null,
    grpc: S.UNAUTHENTICATED,
    summary: 'No bearer token in the request.',
  },
  ERR_INVALID_REQUEST: {
    http: 400,
    bearer: 'invalid_request',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The request carries credentials in a way RFC 6750 forbids (other scheme, two tokens, token in the query).',
  },
  ERR_TOKEN_MALFORMED: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token is not a well-formed JWT.',
  },
  ERR_TOKEN_TOO_LARGE: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token is larger than the configured maximum.',
  },
  // Token validity (RFC 9068, RFC 7519)
  ERR_TOKEN_EXPIRED: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token has expired.',
  },
  ERR_TOKEN_NOT_YET_VALID: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token is not valid yet (nbf/iat in the future).',
  },
  ERR_TOKEN_LIFETIME: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token lifetime (exp − iat) exceeds verify.maxTokenLifetime.',
  },
  ERR_TOKEN_SIGNATURE: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token signature does not verify.',
  },
  ERR_TOKEN_ALG: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token is signed with an algorithm that is not allowed.',
  },
  ERR_TOKEN_KEY_WEAK: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary:
      'Under profile fapi2, the token is signed with an RSA key under 2048 bits or an EC key under 224 bits.',
  },
  ERR_TOKEN_UNKNOWN_KEY: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'No key in the JWKS matches the token (kid unknown after one refetch).',
  },
  ERR_TOKEN_ISSUER: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token was issued by an issuer that is not trusted.',
  },
  ERR_TOKEN_AUDIENCE: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token is not meant for this service (aud).',
  },
  ERR_TOKEN_TYPE: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token typ header is not an accepted access-token type.',
  },
  ERR_TOKEN_INACTIVE: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The authorization server says the token is not active (RFC 7662 §2.2).',
  },
  ERR_TOKEN_CLAIMS: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'A required claim is missing or has the wrong type.',
  },
  // Certificate binding (RFC 8705 §3)
  ERR_CNF_MISSING: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token has no cnf claim: it is not certificate-bound.',
  },
  ERR_CNF_THUMBPRINT_MISSING: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token cnf claim has no string x5t#S256 member.',
  },
  ERR_BINDING_MISMATCH: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary:
      "The token is bound to another certificate than the caller's (stolen or replayed token).",
  },
  // DPoP (RFC 9449): proof checks (§4.3), nonces (§8), replay (§11.1), binding (§6, §7.2)
  ERR_DPOP_PROOF_MISSING: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The request uses the DPoP scheme (or the route requires DPoP) but has no DPoP proof header.',
  },
  ERR_DPOP_PROOF_MULTIPLE: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary: 'The request carries more than one DPoP proof header.',
  },
  ERR_DPOP_PROOF_TOO_LARGE: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary: 'The DPoP proof is larger than verify.dpop.maxProofBytes.',
  },
  ERR_DPOP_PROOF_MALFORMED: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The DPoP proof is not a compact JWS with typ dpop+jwt and the claims htm, htu, iat, jti (and ath).',
  },
  ERR_DPOP_ALG: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The DPoP proof is signed with an algorithm that is not allowed (none, HS*, or not listed).',
  },
  ERR_DPOP_JWK: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The DPoP proof jwk header is missing, not a public asymmetric key (private or symmetric members), or unusable with alg.',
  },
  ERR_DPOP_SIGNATURE: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary: 'The DPoP proof signature does not verify with its own jwk.',
  },
  ERR_DPOP_HTM: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary: 'The DPoP proof htm is not the method of this request.',
  },
  ERR_DPOP_HTU: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary: 'The DPoP proof htu is not the URI of this request (inbound.publicOrigin + path).',
  },
  ERR_DPOP_IAT: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary: 'The DPoP proof iat is outside the acceptance window (verify.dpop.iatWindow).',
  },
  ERR_DPOP_ATH: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary: 'The DPoP proof ath is missing or is not the hash of the access token it comes with.',
  },
  ERR_DPOP_REPLAY: {
    http: 401,
    bearer: 'invalid_dpop_proof',
    grpc: S.UNAUTHENTICATED,
    summary: 'The DPoP proof (its key and jti) was already used: a replayed proof.',
  },
  ERR_DPOP_NONCE_REQUIRED: {
    http: 401,
    bearer: 'use_dpop_nonce',
    grpc: S.UNAUTHENTICATED,
    summary:
      'Server nonces are on and the DPoP proof has no nonce; retry with the DPoP-Nonce sent.',
  },
  ERR_DPOP_NONCE_INVALID: {
    http: 401,
    bearer: 'use_dpop_nonce',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The DPoP proof nonce is stale or was not issued by this service; retry with the DPoP-Nonce sent.',
  },
  ERR_DPOP_REPLAY_STORE_UNAVAILABLE: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary:
      'The DPoP replay store (Redis) cannot be reached, or the in-memory store is full: proofs are refused (fail closed).',
    retryAfterSec: 1,
  },
  // Proof of possession other than this connection's certificate (RFC 9440, RFC 9449)
  ERR_FORWARDED_CERT_MISSING: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The route takes the client certificate from a trusted hop, and no trusted hop forwarded one.',
  },
  ERR_DPOP_REQUIRED: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The route requires a DPoP-bound token presented with the DPoP scheme and a proof.',
  },
  ERR_DPOP_DOWNGRADE: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token is bound to a DPoP key (cnf.jkt) but was presented as a Bearer token.',
  },
  ERR_DPOP_NOT_BOUND: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The token came with a DPoP proof but is not bound to a DPoP key (no cnf.jkt).',
  },
  ERR_DPOP_KEY_MISMATCH: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The DPoP proof is signed with another key than the one the token is bound to (cnf.jkt).',
  },
  ERR_DPOP_UNAVAILABLE: {
    http: 500,
    bearer: null,
    grpc: S.INTERNAL,
    summary: 'The route accepts DPoP but no DPoP verifier is configured; nothing was forwarded.',
  },
  // Values copied into identity headers / metadata
  ERR_CLAIM_UNSAFE: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary:
      'A client id, subject, scope or SPIFFE ID carries a control character (CR, LF, NUL, ...) or surrounding spaces, or a scope is not an RFC 6749 scope-token.',
  },
  ERR_CLAIM_NON_ASCII: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary:
      'A client id, subject, scope or SPIFFE ID has non-ASCII characters, which identity headers do not carry.',
  },
  ERR_PEER_CERT_MISSING: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The connection has no verified client certificate.',
  },
  // Client leaf rules (SPIFFE X.509-SVID §4.1, FAPI 2.0 §5.4.1, RFC 5280 §4.2.1.12)
  ERR_PEER_CERT_NOT_LEAF: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The client certificate is a CA certificate (basicConstraints CA:TRUE), not a leaf.',
  },
  ERR_PEER_CERT_WEAK_KEY: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The client certificate key is too weak (RSA < 2048 bits, EC below P-256).',
  },
  ERR_PEER_CERT_NOT_CLIENT: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The client certificate has an extended key usage without clientAuth.',
  },
  // Client certificate forwarded by a trusted TLS-terminating hop (RFC 9440, Envoy XFCC)
  ERR_FORWARDED_CERT_MALFORMED: {
    http: 400,
    bearer: 'invalid_request',
    grpc: S.UNAUTHENTICATED,
    summary:
      'A trusted hop sent a forwarded-certificate header that does not parse (bad syntax, encoding or DER, or several values).',
  },
  ERR_FORWARDED_CERT_HOP_MISMATCH: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary:
      "The forwarded certificate's element names another proxy (XFCC By=) than the hop that sent it.",
  },
  ERR_FORWARDED_CERT_UNTRUSTED: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The forwarded client certificate does not chain to the trust bundle.',
  },
  ERR_FORWARDED_CERT_EXPIRED: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary:
      'The forwarded client certificate (or a certificate of its chain) is outside its validity period.',
  },
  ERR_FORWARDED_CERT_NOT_LEAF: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The forwarded client certificate is a CA certificate (basicConstraints CA:TRUE).',
  },
  ERR_FORWARDED_CERT_WEAK_KEY: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The forwarded client certificate key is too weak (RSA < 2048 bits, EC below P-256).',
  },
  ERR_FORWARDED_CERT_NOT_CLIENT: {
    http: 401,
    bearer: 'invalid_token',
    grpc: S.UNAUTHENTICATED,
    summary: 'The forwarded client certificate has an extended key usage without clientAuth.',
  },
  // Policy
  ERR_INSUFFICIENT_SCOPE: {
    http: 403,
    bearer: 'insufficient_scope',
    grpc: S.PERMISSION_DENIED,
    summary: 'The token lacks a scope this route requires.',
  },
  ERR_POLICY_DENIED: {
    http: 403,
    bearer: 'insufficient_scope',
    grpc: S.PERMISSION_DENIED,
    summary: 'The caller (client id, SPIFFE ID or token issuer) is not allowed on this route.',
  },
  // Key material of the verifier
  ERR_JWKS_UNAVAILABLE: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: "The authorization server's JWKS could not be fetched.",
    // Another replica may hold the keys; a short back-off, not the refetch cooldown.
    retryAfterSec: 5,
  },
  ERR_INTROSPECTION_UNAVAILABLE: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: "The authorization server's introspection endpoint could not be used.",
    // The readiness probe asks the AS again every second.
    retryAfterSec: 1,
  },
  // Identity (workload certificate source)
  ERR_SOURCE_CLOSED: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The certificate source was closed.',
  },
  ERR_FILE_UNREADABLE: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'A certificate, key or bundle file cannot be read.',
  },
  ERR_CERT_PARSE: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'A certificate file holds no valid PEM certificate.',
  },
  ERR_KEY_PARSE: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The key file holds no valid PEM private key.',
  },
  ERR_KEY_MISMATCH: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The private key does not belong to the certificate.',
  },
  ERR_CERT_EXPIRED: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The certificate is past its notAfter.',
  },
  ERR_CERT_NOT_YET_VALID: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The certificate is before its notBefore.',
  },
  ERR_CERT_UNTRUSTED: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The certificate does not chain to the trust bundle.',
  },
  ERR_CERT_EKU: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The certificate lacks the clientAuth (or serverAuth) extended key usage.',
  },
  ERR_BUNDLE_EMPTY: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The trust bundle holds no CA certificate.',
  },
  ERR_RENEWAL_FAILED: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'Self-renewal of the workload certificate failed; the current one is kept.',
  },
  // Outbound tokens (RFC 6749, RFC 8705 §2)
  ERR_AS_UNAVAILABLE: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'No valid token can be had: the authorization server is unreachable or failing.',
  },
  ERR_AS_TIMEOUT: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The authorization server did not answer within the timeout.',
  },
  ERR_AS_ERROR: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary:
      'The authorization server refused the grant (invalid_client, invalid_scope, invalid_target, ...).',
  },
  ERR_AS_RESPONSE: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The authorization server answered with an invalid response.',
  },
  ERR_DISCOVERY: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'Authorization server metadata could not be discovered.',
  },
  ERR_TOKEN_NOT_BOUND: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary:
      'The authorization server issued a token not bound to our certificate (cnf.x5t#S256 missing or different).',
  },
  // Proxy
  ERR_HEADERS_TOO_LARGE: {
    http: 431,
    bearer: null,
    grpc: S.RESOURCE_EXHAUSTED,
    summary: 'The request headers exceed the configured maximum size.',
  },
  ERR_REQUEST_TIMEOUT: {
    http: 408,
    bearer: null,
    grpc: S.DEADLINE_EXCEEDED,
    summary: 'The client did not send the request in time.',
  },
  ERR_REQUEST_TARGET_UNSUPPORTED: {
    http: 400,
    bearer: null,
    grpc: S.INVALID_ARGUMENT,
    summary:
      'The request target form is not forwarded: asterisk-form (OPTIONS *), CONNECT, or a scheme other than http/https.',
  },
  ERR_REQUEST_TARGET_INVALID: {
    http: 400,
    bearer: null,
    grpc: S.INVALID_ARGUMENT,
    summary:
      'The request target is malformed: not origin-form, absolute-form with userinfo or a bad authority, or absolute-form over HTTP/2.',
  },
  ERR_PATH_UNSAFE: {
    http: 400,
    bearer: null,
    grpc: S.INVALID_ARGUMENT,
    summary:
      'The request path cannot be normalised safely (backslash, fragment, escaped slash or control character, malformed escape, "..;" segment).',
  },
  ERR_UPGRADE_UNSUPPORTED: {
    http: 400,
    bearer: null,
    grpc: S.INVALID_ARGUMENT,
    summary:
      'Only HTTP/1.1 GET upgrades to websocket without a body are forwarded (h2c and other protocols are refused).',
  },
  ERR_APP_UNREACHABLE: {
    http: 502,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The local application could not be reached.',
  },
  ERR_APP_TIMEOUT: {
    http: 504,
    bearer: null,
    grpc: S.DEADLINE_EXCEEDED,
    summary: 'The local application did not answer in time.',
  },
  ERR_UPSTREAM_UNKNOWN: {
    http: 404,
    bearer: null,
    grpc: S.NOT_FOUND,
    summary: 'No upstream with that name is configured.',
  },
  ERR_UPSTREAM_UNREACHABLE: {
    http: 502,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: 'The upstream peer could not be reached over mTLS.',
  },
  ERR_UPSTREAM_IDENTITY: {
    http: 502,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary: "The upstream's certificate does not carry the expected SPIFFE ID.",
  },
  ERR_TOO_MANY_CONNECTIONS: {
    http: 503,
    bearer: null,
    grpc: S.RESOURCE_EXHAUSTED,
    summary: 'The listener is at its connection limit.',
  },
  ERR_OVERLOADED: {
    http: 503,
    bearer: null,
    grpc: S.UNAVAILABLE,
    summary:
      'Too many requests in flight on this connection or from this client certificate; retry after Retry-After.',
    retryAfterSec: 1,
  },
  ERR_INTERNAL: {
    http: 500,
    bearer: null,
    grpc: S.INTERNAL,
    summary: 'An unexpected internal error; the request was not forwarded.',
  },
  // Configuration
  ERR_CONFIG_NOT_FOUND: {
    http: 500,
    bearer: null,
    grpc: S.FAILED_PRECONDITION,
    summary: 'The configuration file does not exist or cannot be read.',
  },
  ERR_CONFIG_INVALID: {
    http: 500,
    bearer: null,
    grpc: S.FAILED_PRECONDITION,
    summary: 'The configuration is invalid; the message names the key and the fix.',
  },
} as const satisfies Record<string, ErrorMapping>;

/** Every stable error code. Switch on `err.code`. */
export type ErrorCode = keyof typeof ERROR_TABLE;

/** All codes, in table order. */
export const ERROR_CODES = Object.keys(ERROR_TABLE) as readonly ErrorCode[];

/** Options for {@link CertboundError}. */
export interface CertboundErrorOptions {
  /** The underlying error; must not carry secrets either. */
  cause?: unknown;
  /** Extra, secret-free detail (e.g. the AS `error` code, the file name). */
  details?: Readonly<Record<string, string | number | boolean | undefined>>;
}

/**
 * The only error class certbound throws for expected failures. `code` is stable across
 * versions; `message` is for humans and never contains a token, key or certificate.
 */
export class CertboundError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Secret-free structured detail. */
  readonly details: Readonly<Record<string, string | number | boolean | undefined>>;

  constructor(code: ErrorCode, message?: string, options: CertboundErrorOptions = {}) {
    // A refusal (4xx) answers the caller and is no bug of ours: no stack trace. Capturing one
    // was ≈ 5 % of the sidecar's CPU under a flood of forged tokens (bench/forged-flood.ts).
    const refusal = ERROR_TABLE[code].http < 500;
    const stackTraceLimit = Error.stackTraceLimit;
    if (refusal) Error.stackTraceLimit = 0;
    try {
      super(
        message ?? ERROR_TABLE[code].summary,
        options.cause === undefined ? undefined : { cause: options.cause },
      );
    } finally {
      if (refusal) Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'CertboundError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** How this error is reported on each transport. */
  get mapping(): ErrorMapping {
    return ERROR_TABLE[this.code];
  }
}

/** True when `value` is a {@link CertboundError} (optionally with the given code). */
export function isCertboundError(value: unknown, code?: ErrorCode): value is CertboundError {
  return value instanceof CertboundError && (code === undefined || value.code === code);
}
