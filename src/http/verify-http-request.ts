import { authorizationValuesOf, bearerTokenOf } from '../verify/bearer-token.js';
import type { Verifier } from '../verify/create-verifier.js';
import { checkPolicy, policyFor, type AccessPolicy } from '../verify/policy.js';
import type { Principal } from '../verify/principal.js';
import { connectionPeerErrorOf, connectionPeerOf, type AnyRequest } from './connection-peer.js';

/** A policy for every path starting with `prefix` (the longest prefix wins). */
export type RoutePolicy = { readonly prefix: string } & AccessPolicy;

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

const UNRESERVED = /%(2[dDeE]|3[0-9]|4[1-9a-fA-F]|5[0-9aA]|5[fF]|6[1-9a-fA-F]|7[0-9aA]|7[eE])/g;

/**
 * The path a policy is matched against: query removed, dot segments resolved and
 * percent-encoded unreserved characters decoded, so `/public/../admin` or `/%61dmin`
 * cannot slip past a `/admin` policy.
 */
export function policyPathOf(url: string): string {
  const q = url.indexOf('?');
  const raw = (q === -1 ? url : url.slice(0, q)).replace(UNRESERVED, (m) =>
    String.fromCharCode(parseInt(m.slice(1), 16)),
  );
  try {
    return new URL(raw.startsWith('/') ? raw : `/${raw}`, 'http://policy.invalid').pathname;
  } catch {
    return raw;
  }
}

/**
 * Verifies one HTTP request: the connection's verified client certificate, the bearer
 * token (RFC 6750 §2.1 only), the token and its binding (RFC 8705 §3), then the route
 * policy. The peer is read synchronously, before any `await`.
 *
 * @throws CertboundError with the code to answer
 */
export function verifyHttpRequest(req: AnyRequest, options: HttpVerifyOptions): Promise<Principal> {
  let peer;
  let token: string;
  try {
    peer = connectionPeerOf(req);
    if (peer === null) throw connectionPeerErrorOf(req);
    token = bearerTokenOf(authorizationValuesOf(req.rawHeaders), tokenInQuery(req.url ?? '/'));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  const policies = options.policies;
  const verified = options.verifier.verify(token, peer);
  if (policies === undefined || policies.length === 0) return verified;
  const path = req.url ?? '/';
  return verified.then((principal) => {
    checkPolicy(principal, policyFor(policies, policyPathOf(path)));
    return principal;
  });
}
