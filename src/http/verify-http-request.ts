import { CertboundError } from '../errors.js';
import { authorizationValuesOf, bearerTokenOf } from '../verify/bearer-token.js';
import type { Verifier } from '../verify/create-verifier.js';
import { checkPolicy, policyFor, type RoutePolicy } from '../verify/policy.js';
import type { Principal } from '../verify/principal.js';
import { requestTargetOf, type RequestTarget } from '../verify/request-path.js';
import { connectionPeerOf, type AnyRequest } from './connection-peer.js';

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
 * Verifies one HTTP request: its target (normalised, or refused), the connection's
 * verified client certificate, the bearer token (RFC 6750 §2.1 only), the token and its
 * binding (RFC 8705 §3), then the route policy for the normalised path. The peer is read
 * synchronously, before any `await`. Pass `target` when the caller already read it, so the
 * policy judges exactly what the caller logs and forwards.
 *
 * @throws CertboundError with the code to answer
 */
export function verifyHttpRequest(
  req: AnyRequest,
  options: HttpVerifyOptions,
  target?: RequestTarget,
): Promise<Principal> {
  let peer;
  let token: string;
  let path: string;
  try {
    path = (target ?? httpRequestTargetOf(req)).path;
    peer = connectionPeerOf(req);
    if (peer === null) throw new CertboundError('ERR_PEER_CERT_MISSING');
    token = bearerTokenOf(authorizationValuesOf(req.rawHeaders), tokenInQuery(req.url ?? '/'));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  const policies = options.policies;
  const verified = options.verifier.verify(token, peer);
  if (policies === undefined || policies.length === 0) return verified;
  return verified.then((principal) => {
    checkPolicy(principal, policyFor(policies, path));
    return principal;
  });
}
