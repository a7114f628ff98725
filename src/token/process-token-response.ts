import { decodeJwt } from 'jose';
import type { TokenEndpointResponse } from 'oauth4webapi';
import { constantTimeEqual } from '../binding/constant-time-equal.js';
import { CertboundError } from '../errors.js';
import type { AccessToken } from './access-token.js';

/** What {@link accessTokenOf} needs besides the AS response. */
export interface TokenResponseContext {
  /** x5t#S256 of the certificate presented on the token request. */
  readonly thumbprint: string;
  /** When the request was sent (ms): lifetimes count from there, not from the answer. */
  readonly requestedAt: number;
  /** Accept tokens whose binding cannot be read (opaque). */
  readonly allowUnboundTokens: boolean;
  /** Lifetime assumed without `expires_in` nor `exp`, in s. */
  readonly defaultLifetimeSec: number;
  /**
   * A DPoP token was asked for (RFC 9449 §5): `token_type` must be `DPoP` and a JWT's
   * `cnf.jkt` this thumbprint of our DPoP key (a `cnf.x5t#S256` beside it must still match).
   */
  readonly dpopJkt?: string;
}

function cnfOf(claims: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const cnf = claims['cnf'];
  return typeof cnf === 'object' && cnf !== null && !Array.isArray(cnf)
    ? (cnf as Record<string, unknown>)
    : {};
}

/** RFC 9449 §6.1: the JWT is bound to our DPoP key (and, if also to a certificate, to ours). */
function checkDpopBinding(
  claims: Readonly<Record<string, unknown>>,
  jkt: string,
  thumbprint: string,
): void {
  const cnf = cnfOf(claims);
  const bound = cnf['jkt'];
  if (typeof bound !== 'string')
    throw new CertboundError(
      'ERR_TOKEN_NOT_BOUND',
      'The authorization server issued a JWT without cnf.jkt to a DPoP token request: enable DPoP for this client (RFC 9449 §6).',
    );
  if (!constantTimeEqual(bound, jkt))
    throw new CertboundError(
      'ERR_TOKEN_NOT_BOUND',
      'The authorization server bound the token to another DPoP key than the one that signed the proof.',
    );
  const x5t = cnf['x5t#S256'];
  if (x5t !== undefined && !(typeof x5t === 'string' && constantTimeEqual(x5t, thumbprint)))
    throw new CertboundError(
      'ERR_TOKEN_NOT_BOUND',
      'The authorization server bound the token to another certificate than the one presented.',
    );
}

/** The claims of a JWS compact token, or undefined for anything else (opaque, JWE). */
function jwtClaimsOf(token: string): Readonly<Record<string, unknown>> | undefined {
  if (token.split('.').length !== 3) return undefined;
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

/**
 * Validates a token response already checked by oauth4webapi for certbound's purposes and
 * turns it into an {@link AccessToken}. Pure: no I/O, no signature check (the token is
 * for the peer to verify; we only read what the AS bound it to).
 *
 * - `token_type` must be `Bearer` (RFC 8705 §3: bound tokens stay bearer-typed).
 * - A JWT's `cnf.x5t#S256` must equal `thumbprint` (RFC 8705 §3.1), else `ERR_TOKEN_NOT_BOUND`.
 * - An opaque token is refused with `ERR_TOKEN_NOT_BOUND` unless `allowUnboundTokens`.
 * - `expiresAt` is the earlier of `requestedAt + expires_in` and the JWT `exp`.
 *
 * @throws CertboundError `ERR_TOKEN_NOT_BOUND` or `ERR_AS_RESPONSE`
 */
export function accessTokenOf(
  response: TokenEndpointResponse,
  context: TokenResponseContext,
): AccessToken {
  const token = response.access_token;
  const dpop = context.dpopJkt !== undefined;
  // RFC 9449 §5: a DPoP-bound token is typed DPoP; RFC 8705 §3: a certificate-bound one Bearer.
  const expectedType = dpop ? 'dpop' : 'bearer';
  if (response.token_type.toLowerCase() !== expectedType) {
    throw new CertboundError(
      'ERR_AS_RESPONSE',
      `The token_type is not ${dpop ? 'DPoP' : 'Bearer'}.`,
      { details: { tokenType: response.token_type.slice(0, 32) } },
    );
  }
  const claims = jwtClaimsOf(token);
  if (claims !== undefined && context.dpopJkt !== undefined) {
    checkDpopBinding(claims, context.dpopJkt, context.thumbprint);
  } else if (claims !== undefined) {
    const cnf = claims['cnf'];
    const bound =
      typeof cnf === 'object' && cnf !== null && !Array.isArray(cnf)
        ? (cnf as Record<string, unknown>)['x5t#S256']
        : undefined;
    if (typeof bound !== 'string') {
      throw new CertboundError(
        'ERR_TOKEN_NOT_BOUND',
        'The authorization server issued a JWT without cnf.x5t#S256: enable certificate-bound access tokens for this client (RFC 8705 §3).',
      );
    }
    if (!constantTimeEqual(bound, context.thumbprint)) {
      throw new CertboundError(
        'ERR_TOKEN_NOT_BOUND',
        'The authorization server bound the token to another certificate than the one presented: the AS must read the client certificate of this TLS connection (no TLS-terminating proxy in front of its mTLS endpoint).',
      );
    }
  } else if (!context.allowUnboundTokens) {
    throw new CertboundError(
      'ERR_TOKEN_NOT_BOUND',
      'The authorization server issued an opaque token whose certificate binding cannot be checked: configure this client at the AS for JWT access tokens (RFC 9068) carrying cnf.x5t#S256 (docs/authorization-servers.md).',
    );
  }
  const candidates: number[] = [];
  if (typeof response.expires_in === 'number') {
    candidates.push(context.requestedAt + response.expires_in * 1000);
  }
  const exp = claims?.['exp'];
  if (typeof exp === 'number') candidates.push(exp * 1000);
  if (candidates.length === 0) {
    candidates.push(context.requestedAt + context.defaultLifetimeSec * 1000);
  }
  const expiresAt = Math.min(...candidates);
  if (!(expiresAt > context.requestedAt)) {
    throw new CertboundError(
      'ERR_AS_RESPONSE',
      'The authorization server issued an expired token.',
    );
  }
  return {
    accessToken: token,
    tokenType: dpop ? 'DPoP' : 'Bearer',
    expiresAt: new Date(expiresAt),
    thumbprint: context.thumbprint,
  };
}
