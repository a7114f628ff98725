import type { PeerIdentity } from '../binding/peer-identity.js';

/** The verified caller of one request: what the token says, and the key it is bound to. */
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
  /**
   * x5t#S256 of the client certificate the token is bound to (equal to its
   * `cnf.x5t#S256`); undefined for a token bound only to a DPoP key.
   */
  readonly thumbprint: string | undefined;
  /** SPIFFE ID of that client certificate, if any. */
  readonly spiffeId: string | undefined;
  /** Which proof of possession was checked: `mtls`, `dpop`, or `mtls+dpop`. */
  readonly proof?: 'mtls' | 'dpop' | 'mtls+dpop' | undefined;
  /**
   * Where the client certificate came from: this connection, or a trusted hop that
   * terminated the client's TLS and forwarded it (RFC 9440).
   */
  readonly certificateSource?: 'connection' | 'forwarded' | undefined;
  /** The trusted hop that forwarded the client certificate (`certificateSource: forwarded`). */
  readonly forwardedBy?: PeerIdentity | undefined;
  /** RFC 7638 thumbprint of the DPoP key the token is bound to (`cnf.jkt`), if any. */
  readonly jkt?: string | undefined;
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

/** How a token was bound to its caller, for {@link principalOf}. */
export interface PrincipalBinding {
  readonly proof: 'mtls' | 'dpop' | 'mtls+dpop';
  readonly certificateSource?: 'connection' | 'forwarded' | undefined;
  readonly forwardedBy?: PeerIdentity | undefined;
  readonly jkt?: string | undefined;
}

/**
 * Builds the {@link Principal} of verified claims and the certificate they are bound to
 * (undefined for a DPoP-only binding); `validator` names what accepted them (the access log
 * reports it), `binding` how the proof was made (default: mTLS on this connection).
 */
export function principalOf(
  claims: Readonly<Record<string, unknown>>,
  peer: { thumbprint: string; spiffeId?: string | undefined } | undefined,
  validator?: string,
  binding?: PrincipalBinding,
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
    thumbprint: peer?.thumbprint,
    spiffeId: peer?.spiffeId,
    claims,
    validator,
    proof: binding?.proof ?? 'mtls',
    certificateSource:
      binding?.certificateSource ?? (peer !== undefined ? 'connection' : undefined),
    forwardedBy: binding?.forwardedBy,
    jkt: binding?.jkt,
  };
}
