import type { DPoPHandle } from 'oauth4webapi';

/** How the token is sender-constrained: RFC 8705 certificate binding, or RFC 9449 DPoP. */
export type TokenProof = 'mtls' | 'dpop';

/** What a caller asks a token for (one upstream). */
export interface TokenRequest {
  /**
   * `mtls` (default): bound to the workload certificate. `dpop`: bound to this identity's
   * DPoP key (RFC 9449 §5), sent with a fresh proof per request ({@link AccessToken.dpop}).
   */
  readonly proof?: TokenProof;
  /** `audience` parameter (used by several ASs, e.g. Keycloak, Auth0). */
  readonly audience?: string;
  /** RFC 8707 `resource` indicator (absolute URI). */
  readonly resource?: string;
  /** Scopes, space-separated or as a list; order does not matter. */
  readonly scope?: string | readonly string[];
}

/** A certificate-bound access token ready to be sent. */
export interface AccessToken {
  /** The token itself. Never log it. */
  readonly accessToken: string;
  /** `Bearer` (RFC 6750), or `DPoP` (RFC 9449 §5) for a DPoP-bound token. */
  readonly tokenType: string;
  readonly expiresAt: Date;
  /** x5t#S256 of the certificate the token is bound to (= the one to present). */
  readonly thumbprint: string;
  /**
   * A DPoP-bound token: the handle that signs a fresh proof for each request with the key
   * the token is bound to (oauth4webapi `DPoP`; its `cnf.jkt` is `jkt`), and tracks nonces.
   */
  readonly dpop?: { readonly handle: DPoPHandle; readonly jkt: string };
}

/** Options of {@link TokenProvider.get}. */
export interface TokenGetOptions {
  /**
   * x5t#S256 of the certificate the caller's connection presents. Without it the token is
   * bound to the current certificate. With it the token is bound to exactly that one — after
   * a rotation, a connection opened with the previous certificate (e.g. a gRPC channel still
   * draining) keeps getting the previous certificate's token until it expires, so its calls
   * never carry a token bound to a certificate they do not present (RFC 8705 §3).
   */
  readonly thumbprint?: string;
}

/** Anything that hands out bound tokens: the TokenClient, or a test double. */
export interface TokenProvider {
  /**
   * A token for `request`, bound to the current workload certificate (or to
   * `options.thumbprint`).
   *
   * @throws CertboundError ERR_AS_UNAVAILABLE (and other ERR_AS_*) when none can be had;
   *   ERR_TOKEN_NOT_BOUND when no valid token is held for a rotated-away `thumbprint`.
   */
  get(request: TokenRequest, options?: TokenGetOptions): Promise<AccessToken>;
}
