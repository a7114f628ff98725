import { CertboundError } from '../errors.js';

// RFC 6750 §2.1 / RFC 9449 §7.1: token68-style b64token.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The access token of a request and the scheme it came with. */
export interface Credentials {
  /** `Bearer` (RFC 6750) or `DPoP` (RFC 9449 §7.1). */
  readonly scheme: 'Bearer' | 'DPoP';
  readonly token: string;
}

/**
 * Extracts the access token from the `Authorization` value(s) of one request: exactly one
 * header, scheme `Bearer` — or `DPoP` where the route accepts it — and one b64token. Pure:
 * transports pass what they received.
 *
 * @param values every `Authorization` value received (HTTP headers or gRPC metadata)
 * @param tokenInQuery true when the URL carries `access_token` (RFC 6750 §2.3, refused)
 * @param acceptDpop the route accepts the `DPoP` scheme
 * @throws CertboundError `ERR_TOKEN_MISSING` (no credentials) or `ERR_INVALID_REQUEST`
 */
export function credentialsOf(
  values: readonly string[],
  tokenInQuery: boolean,
  acceptDpop: boolean,
): Credentials {
  if (tokenInQuery) {
    throw new CertboundError(
      'ERR_INVALID_REQUEST',
      'Access tokens in the URL query are not accepted; use the Authorization header.',
    );
  }
  if (values.length === 0) throw new CertboundError('ERR_TOKEN_MISSING');
  if (values.length > 1) {
    throw new CertboundError(
      'ERR_INVALID_REQUEST',
      'The request carries more than one Authorization header.',
    );
  }
  const value = (values[0] ?? '').trim();
  const space = value.indexOf(' ');
  const given = (space === -1 ? value : value.slice(0, space)).toLowerCase();
  let scheme: Credentials['scheme'];
  if (given === 'bearer') scheme = 'Bearer';
  else if (given === 'dpop' && acceptDpop) scheme = 'DPoP';
  else {
    throw new CertboundError(
      'ERR_INVALID_REQUEST',
      acceptDpop
        ? 'The Authorization scheme must be Bearer or DPoP.'
        : given === 'dpop'
          ? 'DPoP is not accepted on this route; the Authorization scheme must be Bearer.'
          : 'The Authorization scheme must be Bearer.',
    );
  }
  const token = space === -1 ? '' : value.slice(space + 1).trim();
  if (token.length === 0)
    throw new CertboundError('ERR_INVALID_REQUEST', `The ${scheme} credentials are empty.`);
  if (!B64TOKEN.test(token)) {
    throw new CertboundError(
      'ERR_INVALID_REQUEST',
      'The Authorization header carries more than one token or invalid characters.',
    );
  }
  return { scheme, token };
}
