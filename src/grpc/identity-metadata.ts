import type { Principal } from '../verify/principal.js';

/** Default prefix of the verified-identity metadata/headers certbound sets. */
export const DEFAULT_IDENTITY_PREFIX = 'x-certbound-';

const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * The `<prefix>*` entries that describe a verified caller: `subject`, `client-id`,
 * `spiffe-id`, `scope` (space-separated) and `cert-thumbprint` (as on the HTTP path). Values that are not printable
 * ASCII are left out (gRPC metadata and HTTP/2 headers cannot carry them safely).
 */
export function identityEntriesOf(principal: Principal, prefix: string): Array<[string, string]> {
  const entries: Array<[string, string | undefined]> = [
    [`${prefix}subject`, principal.subject],
    [`${prefix}client-id`, principal.clientId],
    [`${prefix}spiffe-id`, principal.spiffeId],
    [`${prefix}scope`, principal.scopes.join(' ')],
    [`${prefix}cert-thumbprint`, principal.thumbprint],
  ];
  return entries.filter(
    (e): e is [string, string] => e[1] !== undefined && e[1].length > 0 && PRINTABLE.test(e[1]),
  );
}

/** True for a metadata key or header name in certbound's identity namespace. */
export function isIdentityKey(key: string, prefix: string): boolean {
  return key.toLowerCase().startsWith(prefix);
}
