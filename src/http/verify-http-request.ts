import { CertboundError } from '../errors.js';
import { authorizeRequest, type InboundRequest } from '../verify/authorize-request.js';
import { authorizationValuesOf, headerValuesOf } from '../verify/bearer-token.js';
import type { Verifier } from '../verify/create-verifier.js';
import type { RoutePolicy } from '../verify/policy.js';
import type { Principal } from '../verify/principal.js';
import { requestTargetOf, type RequestTarget } from '../verify/request-path.js';
import { connectionPeerErrorOf, connectionPeerOf, type AnyRequest } from './connection-peer.js';

/** What every HTTP transport (proxy, middleware, plugin) verifies a request with. */
export interface HttpVerifyOptions {
  /** The shared verifier (`createVerifier`). */
  readonly verifier: Verifier;
  /** Route policies; none = any verified caller may call any path. */
  readonly policies?: readonly RoutePolicy[];
}

/** True when the query string carries `access_token` (RFC 6750 §2.3). */
export function tokenInQuery(url: string): boolean {
  const q = url.indexOf('?');
  return q !== -1 && new URLSearchParams(url.slice(q + 1)).has('access_token');
}

/**
 * The normalised target of a request (`requestTargetOf`): absolute-form only on HTTP/1.x,
 * CONNECT refused whatever its target.
 *
 * @throws CertboundError `ERR_REQUEST_TARGET_*` / `ERR_PATH_UNSAFE`
 */
export function httpRequestTargetOf(req: AnyRequest): RequestTarget {
  if (req.method === 'CONNECT')
    throw new CertboundError('ERR_REQUEST_TARGET_UNSUPPORTED', 'CONNECT is not forwarded.');
  return requestTargetOf(req.url ?? '/', { absoluteForm: req.httpVersionMajor === 1 });
}

/**
 * What the HTTP transports hand the pipeline for one request: every `Authorization`
 * value (raw headers: node keeps only the first in `req.headers`), the certificate of
 * this connection (read once per connection, before any `await`), method, normalised
 * path, the proof headers (`DPoP`, forwarded certificates) and the remote address.
 */
export function inboundRequestOf(req: AnyRequest, target: RequestTarget): InboundRequest {
  const peer = connectionPeerOf(req);
  const rawHeaders = req.rawHeaders;
  return {
    authorization: authorizationValuesOf(rawHeaders),
    tokenInQuery: tokenInQuery(req.url ?? '/'),
    peer,
    ...(peer === null ? { peerError: connectionPeerErrorOf(req) } : {}),
    method: req.method ?? 'GET',
    path: target.path,
    // Read only by the proof step of routes that need them (DPoP, forwarded certificates).
    header: (name) => headerValuesOf(rawHeaders, name),
    remoteAddress: req.socket.remoteAddress,
  };
}

/**
 * Verifies one HTTP request through the inbound pipeline (`authorizeRequest`): its target
 * (normalised, or refused), then the connection's certificate, the bearer token
 * (RFC 6750 §2.1 only), the token and its binding (RFC 8705 §3), then the route policy for
 * the normalised path. Pass `target` when the caller already read it, so the policy judges
 * exactly what the caller logs and forwards.
 *
 * @throws CertboundError with the code to answer
 */
export function verifyHttpRequest(
  req: AnyRequest,
  options: HttpVerifyOptions,
  target?: RequestTarget,
): Promise<Principal> {
  let request: InboundRequest;
  try {
    request = inboundRequestOf(req, target ?? httpRequestTargetOf(req));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  return authorizeRequest(request, options.verifier.pipeline, options.policies);
}
