import { CertboundError } from '../errors.js';
import type { Principal } from './principal.js';

/** Who may call a route (HTTP path prefix) or a gRPC method. Unset fields allow anyone. */
export interface AccessPolicy {
  /** Allowed `client_id` values. */
  clientIds?: readonly string[];
  /** Allowed SPIFFE IDs of the peer certificate. */
  spiffeIds?: readonly string[];
  /** Scopes the token must all carry. */
  scopes?: readonly string[];
}

/**
 * Applies a policy to a verified principal.
 *
 * @throws CertboundError `ERR_POLICY_DENIED` (client/SPIFFE ID) or `ERR_INSUFFICIENT_SCOPE`
 */
export function checkPolicy(principal: Principal, policy: AccessPolicy | undefined): void {
  if (policy === undefined) return;
  if (
    policy.clientIds !== undefined &&
    !(principal.clientId !== undefined && policy.clientIds.includes(principal.clientId))
  ) {
    throw new CertboundError('ERR_POLICY_DENIED', 'This client is not allowed on this route.');
  }
  if (
    policy.spiffeIds !== undefined &&
    !(principal.spiffeId !== undefined && policy.spiffeIds.includes(principal.spiffeId))
  ) {
    throw new CertboundError('ERR_POLICY_DENIED', 'This SPIFFE ID is not allowed on this route.');
  }
  const missing = (policy.scopes ?? []).filter((s) => !principal.scopes.includes(s));
  if (missing.length > 0) {
    throw new CertboundError('ERR_INSUFFICIENT_SCOPE', `Missing scope: ${missing.join(' ')}.`, {
      details: { scope: (policy.scopes ?? []).join(' ') },
    });
  }
}

/**
 * The policy of the longest matching prefix (HTTP paths or `/package.Service/Method`).
 */
export function policyFor(
  policies: ReadonlyArray<{ prefix: string } & AccessPolicy> | undefined,
  path: string,
): AccessPolicy | undefined {
  let best: ({ prefix: string } & AccessPolicy) | undefined;
  for (const p of policies ?? []) {
    if (path.startsWith(p.prefix) && (best === undefined || p.prefix.length > best.prefix.length))
      best = p;
  }
  return best;
}
