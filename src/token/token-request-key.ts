import type { TokenProof, TokenRequest } from './access-token.js';

/** A {@link TokenRequest} in canonical form: scopes split, de-duplicated and sorted. */
export interface NormalizedTokenRequest {
  readonly audience: string | undefined;
  readonly resource: string | undefined;
  readonly scopes: readonly string[];
  /** How the token is to be bound (part of the key: a DPoP token is no mTLS token). */
  readonly proof: TokenProof;
  /** Canonical string of the fields, without the certificate. */
  readonly key: string;
}

/**
 * Canonical form of a request, so `scope: 'b a'` and `scope: ['a', 'b']` share one cache
 * entry (RFC 6749 §3.3: scope order carries no meaning).
 *
 * @throws TypeError when a field has the wrong type or a scope token is invalid.
 */
export function normalizeTokenRequest(request: TokenRequest = {}): NormalizedTokenRequest {
  const { audience, resource, scope } = request;
  const proof = request.proof ?? 'mtls';
  if (proof !== 'mtls' && proof !== 'dpop') throw new TypeError('proof must be mtls or dpop');
  if (audience !== undefined && (typeof audience !== 'string' || audience.length === 0)) {
    throw new TypeError('audience must be a non-empty string');
  }
  if (resource !== undefined) {
    // RFC 8707 §2: an absolute URI without a fragment.
    if (typeof resource !== 'string' || URL.parse(resource) === null || resource.includes('#')) {
      throw new TypeError('resource must be an absolute URI without fragment (RFC 8707 §2)');
    }
  }
  const list = scope === undefined ? [] : typeof scope === 'string' ? scope.split(' ') : [...scope];
  const scopes = [...new Set(list.filter((s) => s.length > 0))].sort();
  // RFC 6749 §3.3 scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
  if (scopes.some((s) => !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))) {
    throw new TypeError('scope contains characters RFC 6749 §3.3 does not allow');
  }
  // The proof kind is in the key only for DPoP, so the mTLS keys stay as they were.
  const key = JSON.stringify([
    audience ?? null,
    resource ?? null,
    scopes,
    ...(proof === 'dpop' ? ['dpop'] : []),
  ]);
  return { audience, resource, scopes, proof, key };
}

/** `resource https://payments.example, scope "a b"`, for messages and logs; never a token. */
export function describeTokenRequest(request: NormalizedTokenRequest): string {
  const parts = [
    request.audience !== undefined ? `audience ${request.audience}` : undefined,
    request.resource !== undefined ? `resource ${request.resource}` : undefined,
    request.scopes.length > 0 ? `scope "${request.scopes.join(' ')}"` : undefined,
    request.proof === 'dpop' ? 'DPoP-bound' : undefined,
  ].filter((p) => p !== undefined);
  return parts.length > 0 ? parts.join(', ') : 'the default audience';
}
