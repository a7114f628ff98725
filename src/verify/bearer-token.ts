import { credentialsOf } from './credentials.js';

/**
 * Extracts the bearer token from the `Authorization` header value(s) of one request
 * (RFC 6750 §2.1): {@link credentialsOf} with the `Bearer` scheme only.
 *
 * @param values every `Authorization` value received (HTTP headers or gRPC metadata)
 * @param tokenInQuery true when the URL carries `access_token` (RFC 6750 §2.3, refused)
 * @throws CertboundError `ERR_TOKEN_MISSING` (no credentials) or `ERR_INVALID_REQUEST`
 */
export function bearerTokenOf(values: readonly string[], tokenInQuery = false): string {
  return credentialsOf(values, tokenInQuery, false).token;
}

/**
 * Every `Authorization` value of a request, from node's raw header list (`req.rawHeaders`):
 * `req.headers` keeps only the first of repeated `authorization` fields, and RFC 6750 §2.1
 * allows exactly one, so duplicates must be counted where they are still visible.
 */
export function authorizationValuesOf(rawHeaders: readonly string[]): string[] {
  return headerValuesOf(rawHeaders, 'authorization');
}

/**
 * Every value of one header (lower-case `name`) in node's raw header list, in order:
 * repeated fields stay visible (a second `DPoP` proof or `Client-Cert` is refused, not
 * merged).
 */
export function headerValuesOf(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const field = rawHeaders[i] as string;
    if (field.length === name.length && field.toLowerCase() === name)
      values.push(rawHeaders[i + 1] as string);
  }
  return values;
}
