/** The verified caller of one request: what the token says, bound to this connection. */
export interface Principal {
  /** `sub` claim. */
  readonly subject: string | undefined;
  /** `client_id` claim (RFC 9068 §2.2), falling back to `azp`. */
  readonly clientId: string | undefined;
  /** Scopes from `scope` (space-separated) or `scp` (array). */
  readonly scopes: readonly string[];
  /** `aud` as an array. */
  readonly audience: readonly string[];
  /** `iss` claim. */
  readonly issuer: string | undefined;
  /** When the token expires. */
  readonly expiresAt: Date;
  /** x5t#S256 of the peer certificate (equal to the token's cnf). */
  readonly thumbprint: string;
  /** SPIFFE ID of the peer certificate, if any. */
  readonly spiffeId: string | undefined;
  /** All verified claims. */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * Which validator accepted the token (`ValidatedToken.validator`): `jwt` or
   * `introspection` for the built-in ones; undefined when built outside the pipeline.
   */
  readonly validator?: string | undefined;
}

function stringClaim(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' ? value : undefined;
}

/** Scopes of a claims set: RFC 9068 `scope` string, or the common `scp` array. */
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  const scope = claims['scope'];
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s.length > 0);
  const scp = claims['scp'];
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string');
  return [];
}

/**
 * Builds the {@link Principal} of verified claims and the peer of this connection;
 * `validator` names what accepted them (the access log reports it).
 */
export function principalOf(
  claims: Readonly<Record<string, unknown>>,
  peer: { thumbprint: string; spiffeId?: string | undefined },
  validator?: string,
): Principal {
  const aud = claims['aud'];
  const exp = claims['exp'];
  return {
    subject: stringClaim(claims, 'sub'),
    clientId: stringClaim(claims, 'client_id') ?? stringClaim(claims, 'azp'),
    scopes: scopesOf(claims),
    audience:
      typeof aud === 'string'
        ? [aud]
        : Array.isArray(aud)
          ? aud.filter((a): a is string => typeof a === 'string')
          : [],
    issuer: stringClaim(claims, 'iss'),
    expiresAt: new Date(typeof exp === 'number' ? exp * 1000 : 0),
    thumbprint: peer.thumbprint,
    spiffeId: peer.spiffeId,
    claims,
    validator,
  };
}
