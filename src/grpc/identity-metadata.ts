import { checkIdentityValues } from '../verify/identity-claims.js';
import type { Principal } from '../verify/principal.js';

/** Default prefix of the verified-identity metadata/headers certbound sets. */
export const DEFAULT_IDENTITY_PREFIX = 'x-certbound-';

// Verified principals are reused per connection (the verifier's memo): so are their entries.
const entriesCache = new WeakMap<Principal, { prefix: string; entries: Array<[string, string]> }>();

/**
 * The `<prefix>*` entries that describe a verified caller: `subject`, `client-id`,
 * `spiffe-id`, `scope` (space-separated), `cert-thumbprint`, `forwarded-by` (the trusted hop
 * that forwarded the client certificate) and `dpop-jkt` (as on the HTTP path).
 * Values are checked first, as on the HTTP path (`checkIdentityValues`): a token whose
 * claims would carry control characters or non-ASCII into metadata is refused, never
 * passed on altered. Callers must not modify the returned array.
 *
 * @throws CertboundError `ERR_CLAIM_UNSAFE` / `ERR_CLAIM_NON_ASCII`
 */
export function identityEntriesOf(
  principal: Principal,
  prefix: string,
): ReadonlyArray<readonly [string, string]> {
  const cached = entriesCache.get(principal);
  if (cached?.prefix === prefix) return cached.entries;
  checkIdentityValues(principal);
  const candidates: Array<[string, string | undefined]> = [
    [`${prefix}subject`, principal.subject],
    [`${prefix}client-id`, principal.clientId],
    [`${prefix}spiffe-id`, principal.spiffeId],
    [`${prefix}scope`, principal.scopes.join(' ')],
    [`${prefix}cert-thumbprint`, principal.thumbprint],
    [`${prefix}forwarded-by`, forwardedByOf(principal)],
    [`${prefix}dpop-jkt`, principal.jkt],
  ];
  const entries = candidates.filter(
    (e): e is [string, string] => e[1] !== undefined && e[1].length > 0,
  );
  entriesCache.set(principal, { prefix, entries });
  return entries;
}

/**
 * The `forwarded-by` identity value: the SPIFFE ID of the trusted hop that forwarded the
 * client certificate, else its certificate thumbprint; undefined for a direct connection.
 */
export function forwardedByOf(principal: Principal): string | undefined {
  const hop = principal.forwardedBy;
  if (hop === undefined) return undefined;
  return hop.spiffeId ?? `x5t#S256=${hop.thumbprint}`;
}

/** True for a metadata key or header name in certbound's identity namespace. */
export function isIdentityKey(key: string, prefix: string): boolean {
  return key.toLowerCase().startsWith(prefix);
}
