import { CertboundError, isCertboundError } from '../errors.js';
import type { IdentityFilesSnapshot } from './identity-files-snapshot.js';
import type { IdentityMaterial, WorkloadIdentity } from './workload-identity.js';

/** What a settled candidate would do: nothing, publish, or reject. */
export type RotationVerdict =
  | { readonly kind: 'same' }
  | {
      readonly kind: 'publish';
      readonly identity: WorkloadIdentity;
      /** Suspicious (drops a trusted CA): must agree for one more quiet period first. */
      readonly hold: boolean;
    }
  | { readonly kind: 'reject'; readonly error: CertboundError };

/** CAs of `previous` that `next` no longer holds, by thumbprint. */
export function droppedCas(previous: WorkloadIdentity, next: WorkloadIdentity): number {
  const kept = new Set(next.bundle.map((c) => c.fingerprint256));
  return previous.bundle.filter((c) => !kept.has(c.fingerprint256)).length;
}

/**
 * What `snapshot` would do to `previous`, the identity in use: `check` (checkIdentity with
 * the source's options) decides validity; an identity with the same leaf, key and bundle
 * is `same`. `origin` names the files in an unexpected check failure.
 */
export function rotationVerdictOf(
  snapshot: IdentityFilesSnapshot,
  previous: WorkloadIdentity,
  check: (material: IdentityMaterial) => WorkloadIdentity,
  origin: string,
): RotationVerdict {
  if (!snapshot.ok) return { kind: 'reject', error: snapshot.error };
  let identity: WorkloadIdentity;
  try {
    identity = check(snapshot.material);
  } catch (err) {
    return {
      kind: 'reject',
      error: isCertboundError(err)
        ? err
        : new CertboundError('ERR_CERT_PARSE', `${origin}: the files could not be checked.`, {
            cause: err,
          }),
    };
  }
  if (
    previous.thumbprint === identity.thumbprint &&
    previous.bundlePem === identity.bundlePem &&
    previous.keyPem === identity.keyPem
  )
    return { kind: 'same' };
  // A smaller bundle that drops a CA we trust is what a half-written bundle looks like;
  // a real retirement (retire-ca) survives one more quiet period unchanged.
  const hold =
    identity.bundle.length < previous.bundle.length && droppedCas(previous, identity) > 0;
  return { kind: 'publish', identity, hold };
}
