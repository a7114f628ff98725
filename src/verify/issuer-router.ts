import { CertboundError } from '../errors.js';
import type { TokenValidator } from './token-validator.js';

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** A validator that refuses every token with one error (an unroutable token). */
function refusing(kind: string, error: () => CertboundError): TokenValidator {
  return {
    kind,
    validate: () => Promise.reject(error()),
    ready: () => ({ ok: true }),
    close: () => Promise.resolve(),
  };
}

const UNKNOWN_ISSUER = refusing(
  'jwt',
  () => new CertboundError('ERR_TOKEN_ISSUER', 'The token issuer is not trusted here.'),
);
const MALFORMED = refusing('jwt', () => new CertboundError('ERR_TOKEN_MALFORMED'));

/** The unverified `iss` of a JWS compact token's payload, or undefined. */
function unverifiedIssuerOf(token: string): string | undefined {
  const first = token.indexOf('.');
  const payload = token.slice(first + 1, token.indexOf('.', first + 1));
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const iss = (claims as { iss?: unknown } | null)?.iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Picks the one validator of a token among several issuers: a JWT by the `iss` of its
 * (unverified) payload, looked up in a Map, so only that issuer's keys and checks ever see
 * it (FAPI 2.0 §6.3: a key of issuer A never verifies a token claiming issuer B — B's
 * validator checks the signature and `iss` again); any
 * other token (opaque, not JWS compact) to `opaque`, the introspection validator. A JWT of
 * an unknown issuer is refused with `ERR_TOKEN_ISSUER` before any key work; an opaque token
 * without `opaque` with `ERR_TOKEN_MALFORMED`. Cost does not grow with the number of issuers.
 */
export function issuerRouter(
  jwtByIssuer: ReadonlyMap<string, TokenValidator>,
  opaque: TokenValidator | undefined,
  maxTokenBytes: number,
): (token: string) => TokenValidator {
  const tooLarge = refusing(
    'jwt',
    () =>
      new CertboundError('ERR_TOKEN_TOO_LARGE', `The token is larger than ${maxTokenBytes} bytes.`),
  );
  return (token) => {
    // UTF-8 is never shorter than UTF-16: no payload larger than the limit is decoded.
    if (token.length > maxTokenBytes) return tooLarge;
    if (!JWS_COMPACT.test(token)) return opaque ?? MALFORMED;
    const iss = unverifiedIssuerOf(token);
    if (iss === undefined) return MALFORMED;
    return jwtByIssuer.get(iss) ?? UNKNOWN_ISSUER;
  };
}
