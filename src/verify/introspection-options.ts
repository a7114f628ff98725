/** A fetch function compatible with oauth4webapi's `customFetch` (e.g. over an mTLS agent). */
export type IntrospectionFetch = (url: string, init: RequestInit) => Promise<Response>;

/** Outcome of one introspection call, for `certbound_introspection_requests_total{result}`. */
export type IntrospectionResult = 'active' | 'inactive' | 'refused' | 'unavailable';

/**
 * The defaults of {@link IntrospectionOptions}: their one home (the config schema's
 * `verify.issuers[].introspection.*` defaults come from here).
 */
export const INTROSPECTION_DEFAULTS = {
  timeoutMs: 5_000,
  cacheMaxAgeMs: 60_000,
  inactiveCacheMaxAgeMs: 5_000,
  cacheSize: 10_000,
  tokenTypes: ['bearer'],
} as const;

/** Options of `createIntrospectionValidator`. */
export interface IntrospectionOptions {
  /** The issuer whose tokens this endpoint introspects (`iss` must match when present). */
  issuer: string;
  /** Accepted audiences (`aud` or `audience` of the response must name one). Required. */
  audience: string | string[];
  /**
   * The introspection endpoint (RFC 7662 §2; for `tls_client_auth` its RFC 8705 §5
   * `mtls_endpoint_aliases.introspection_endpoint` when the AS publishes one). https only,
   * plain http on loopback. A function is called on first use (metadata discovery), and
   * again after it fails.
   */
  endpoint: string | (() => Promise<string>);
  /** This resource server's `client_id` at the AS. */
  clientId: string;
  /**
   * `client_secret_basic` secret. Unset: `tls_client_auth` (RFC 8705 §2), the certificate
   * being whatever `fetch` presents.
   */
  clientSecret?: string;
  /**
   * How requests are sent: for `tls_client_auth` a fetch over an agent that presents the
   * workload certificate. Default: the global fetch (no client certificate).
   */
  fetch?: IntrospectionFetch;
  /**
   * Ask for RFC 9701 JWT responses (`Accept: application/token-introspection+jwt`, FAPI 2.0
   * Message Signing §5.5) and accept only those, signed by a key of the AS's `jwksUri`
   * (fetched with `fetch`) with one of `algorithms` (default `DEFAULT_ALGORITHMS`). A plain
   * JSON answer, or one that fails the signature, `iss` (= issuer) or `aud` (= clientId)
   * check, is `ERR_INTROSPECTION_UNAVAILABLE`. Unset: plain JSON answers (RFC 7662 §2.2).
   */
  jwtResponse?: { jwksUri: string; algorithms?: string[] };
  /** Timeout of one introspection call. Default 5 s. */
  timeoutMs?: number;
  /**
   * Longest time an active answer is reused, so a revocation takes effect within it; never
   * past the token's `exp`. Default 60 s.
   */
  cacheMaxAgeMs?: number;
  /** How long a refused answer (inactive, wrong audience…) is reused. Default 5 s. */
  inactiveCacheMaxAgeMs?: number;
  /** Entries in each of the active and refused caches. Default 10 000. */
  cacheSize?: number;
  /** Accepted `token_type` values when the response has one. Default `['bearer']`. */
  tokenTypes?: string[];
  /** Clock skew tolerated on `exp`/`nbf`/`iat`, in seconds. Default 30. */
  clockToleranceSec?: number;
  /** Longest accepted lifetime `exp − iat`, in seconds. Default 86 400. */
  maxTokenLifetimeSec?: number;
  /** Maximum token length in bytes (never sent to the AS when larger). Default 8192. */
  maxTokenBytes?: number;
  /** Called once per introspection call, with its outcome and duration in seconds (metrics). */
  onResult?: (result: IntrospectionResult, seconds: number) => void;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}
