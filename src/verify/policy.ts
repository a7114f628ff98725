import { CertboundError } from '../errors.js';
import type { Principal } from './principal.js';
import type { ProofRequirement } from './proof-requirement.js';
import { normalisePath } from './request-path.js';

/** Who may call a route (HTTP path prefix) or a gRPC method. Unset fields allow anyone. */
export interface AccessPolicy {
  /** Allowed `client_id` values. */
  clientIds?: readonly string[];
  /** Allowed SPIFFE IDs of the peer certificate. */
  spiffeIds?: readonly string[];
  /** Scopes the token must all carry. */
  scopes?: readonly string[];
  /** Allowed token issuers (`iss`), when several are trusted. */
  issuers?: readonly string[];
  /**
   * Which proof of possession the route requires (see {@link ProofRequirement}); default
   * `mtls`: the token is bound to the certificate of this connection.
   */
  proof?: ProofRequirement;
}

/**
 * Applies a policy to a verified principal.
 *
 * @throws CertboundError `ERR_POLICY_DENIED` (client/SPIFFE ID, issuer) or `ERR_INSUFFICIENT_SCOPE`
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
  if (
    policy.issuers !== undefined &&
    !(principal.issuer !== undefined && policy.issuers.includes(principal.issuer))
  ) {
    throw new CertboundError(
      'ERR_POLICY_DENIED',
      'Tokens of this issuer are not allowed on this route.',
    );
  }
  const missing = (policy.scopes ?? []).filter((s) => !principal.scopes.includes(s));
  if (missing.length > 0) {
    throw new CertboundError('ERR_INSUFFICIENT_SCOPE', `Missing scope: ${missing.join(' ')}.`, {
      details: { scope: (policy.scopes ?? []).join(' ') },
    });
  }
}

/**
 * A policy for every path starting with `prefix` (HTTP path, or `/package.Service/` for
 * gRPC; the longest prefix wins). The prefix is normalised like request paths and matched
 * case-insensitively unless `caseSensitive` is true — only for apps whose router is
 * case-sensitive too, or `/ADMIN` reaches an `/admin` handler without the `/admin` policy.
 */
export type RoutePolicy = {
  readonly prefix: string;
  /** Match `prefix` with case. Default false. */
  readonly caseSensitive?: boolean;
} & AccessPolicy;

/** A policy with its prefix prepared for matching (see {@link compilePolicies}). */
export interface CompiledPolicy {
  readonly policy: RoutePolicy;
  /** The prefix normalised like request paths, lower-cased unless case-sensitive. */
  readonly prefix: string;
  readonly caseSensitive: boolean;
}

// Compiled once per policy list (the list object of the config or the caller), not per call.
const compiled = new WeakMap<ReadonlyArray<RoutePolicy>, readonly CompiledPolicy[]>();

/**
 * Normalises and checks the prefixes of a policy list, as {@link policyFor} will match them.
 *
 * @throws TypeError when a prefix does not start with `/` or cannot be normalised
 */
export function compilePolicies(policies: ReadonlyArray<RoutePolicy>): readonly CompiledPolicy[] {
  const known = compiled.get(policies);
  if (known !== undefined) return known;
  const out = policies.map((policy) => {
    if (typeof policy.prefix !== 'string' || !policy.prefix.startsWith('/'))
      throw new TypeError(`policy prefix ${JSON.stringify(policy.prefix)} must start with "/"`);
    let prefix: string;
    try {
      prefix = normalisePath(policy.prefix);
    } catch (err) {
      throw new TypeError(
        `policy prefix ${JSON.stringify(policy.prefix)} cannot be normalised: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const caseSensitive = policy.caseSensitive === true;
    return { policy, prefix: caseSensitive ? prefix : prefix.toLowerCase(), caseSensitive };
  });
  compiled.set(policies, out);
  return out;
}

/**
 * The policy of the longest matching prefix for a normalised path (HTTP, from
 * `requestTargetOf`) or a gRPC `/package.Service/Method`. Prefixes are normalised like
 * paths and compared case-insensitively unless the policy sets `caseSensitive` (Express
 * and many routers ignore case, so a case-sensitive match would let `/ADMIN` past an
 * `/admin` rule). Does not normalise `path` itself.
 */
export function policyFor(
  policies: ReadonlyArray<RoutePolicy> | undefined,
  path: string,
): AccessPolicy | undefined {
  if (policies === undefined || policies.length === 0) return undefined;
  let lower: string | undefined;
  let best: CompiledPolicy | undefined;
  for (const p of compilePolicies(policies)) {
    const subject = p.caseSensitive ? path : (lower ??= path.toLowerCase());
    if (
      subject.startsWith(p.prefix) &&
      (best === undefined || p.prefix.length > best.prefix.length)
    )
      best = p;
  }
  return best?.policy;
}
