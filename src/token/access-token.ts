/** What a caller asks a token for (one upstream). */
export interface TokenRequest {
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
  /** `Bearer` (RFC 6750). */
  readonly tokenType: string;
  readonly expiresAt: Date;
  /** x5t#S256 of the certificate the token is bound to (= the one to present). */
  readonly thumbprint: string;
}

/** Anything that hands out bound tokens: the TokenClient, or a test double. */
export interface TokenProvider {
  /**
   * A token for `request`, bound to the current workload certificate.
   *
   * @throws CertboundError ERR_AS_UNAVAILABLE (and other ERR_AS_*) when none can be had.
   */
  get(request: TokenRequest): Promise<AccessToken>;
}
