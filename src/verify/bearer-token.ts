import { CertboundError } from '../errors.js';

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Extracts the bearer token from the `Authorization` header value(s) of one request
 * (RFC 6750 §2.1). Pure: transports pass what they received.
 *
 * @param values every `Authorization` value received (HTTP headers or gRPC metadata)
 * @param tokenInQuery true when the URL carries `access_token` (RFC 6750 §2.3, refused)
 * @throws CertboundError `ERR_TOKEN_MISSING` (no credentials) or `ERR_INVALID_REQUEST`
 */
export function bearerTokenOf(values: readonly string[], tokenInQuery = false): string {
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
  const scheme = space === -1 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    throw new CertboundError('ERR_INVALID_REQUEST', 'The Authorization scheme must be Bearer.');
  }
  const credentials = space === -1 ? '' : value.slice(space + 1).trim();
  if (credentials.length === 0)
    throw new CertboundError('ERR_INVALID_REQUEST', 'The Bearer credentials are empty.');
  if (!B64TOKEN.test(credentials)) {
    throw new CertboundError(
      'ERR_INVALID_REQUEST',
      'The Authorization header carries more than one token or invalid characters.',
    );
  }
  return credentials;
}

/**
 * Every `Authorization` value of a request, from node's raw header list (`req.rawHeaders`):
 * `req.headers` keeps only the first of repeated `authorization` fields, and RFC 6750 §2.1
 * allows exactly one, so duplicates must be counted where they are still visible.
 */
export function authorizationValuesOf(rawHeaders: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === 'authorization')
      values.push(rawHeaders[i + 1] as string);
  }
  return values;
}
