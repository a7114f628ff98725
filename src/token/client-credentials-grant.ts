import {
  clientCredentialsGrantRequest,
  customFetch,
  processClientCredentialsResponse,
  TlsClientAuth,
  type AuthorizationServer,
  type Client,
  type DPoPHandle,
} from 'oauth4webapi';
import type { AccessToken } from './access-token.js';
import type { FetchFunction } from './mtls-agents.js';
import { accessTokenOf, type TokenResponseContext } from './process-token-response.js';
import type { NormalizedTokenRequest } from './token-request-key.js';

/** How {@link clientCredentialsRequest} sends: over the mTLS agent of one identity. */
export interface GrantRequestOptions {
  readonly fetch: FetchFunction;
  /** Whole exchange, connect to last byte. */
  readonly timeoutMs: number;
  /** RFC 9449 §5: sign a `DPoP` proof for the token endpoint with this handle (its nonce too). */
  readonly dpop?: DPoPHandle;
}

/**
 * Sends the `client_credentials` grant (RFC 6749 §4.4) for `request`, authenticating with
 * the TLS client certificate of `options.fetch` (RFC 8705 §2): `scope`, RFC 8707 `resource`
 * and `audience` as form parameters; with `options.dpop`, a `DPoP` proof header (RFC 9449
 * §5, with the AS's last `DPoP-Nonce`). Only I/O: the response is not looked at (see
 * {@link processClientCredentials}).
 */
export function clientCredentialsRequest(
  as: AuthorizationServer,
  client: Client,
  request: NormalizedTokenRequest,
  options: GrantRequestOptions,
): Promise<Response> {
  const params = new URLSearchParams();
  if (request.scopes.length > 0) params.set('scope', request.scopes.join(' '));
  if (request.resource !== undefined) params.set('resource', request.resource);
  if (request.audience !== undefined) params.set('audience', request.audience);
  return clientCredentialsGrantRequest(as, client, TlsClientAuth(), params, {
    signal: AbortSignal.timeout(options.timeoutMs),
    [customFetch]: options.fetch,
    ...(options.dpop !== undefined ? { DPoP: options.dpop } : {}),
  });
}

/**
 * Validates the token response (oauth4webapi: status, JSON, RFC 6749 §5.1 fields; an error
 * response throws) and checks it is bound to the certificate presented
 * ({@link accessTokenOf}). Reads the body; sends nothing.
 *
 * @throws oauth4webapi's `ResponseBodyError` / `OperationProcessingError` (map them with
 *   `mapAsError`), CertboundError `ERR_TOKEN_NOT_BOUND` / `ERR_AS_RESPONSE`
 */
export async function processClientCredentials(
  as: AuthorizationServer,
  client: Client,
  response: Response,
  context: TokenResponseContext,
): Promise<AccessToken> {
  const body = await processClientCredentialsResponse(as, client, response);
  return accessTokenOf(body, context);
}
