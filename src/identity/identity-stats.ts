import type { ErrorCode } from '../errors.js';
import type { WorkloadIdentity } from './workload-identity.js';
import type { X509Source } from './x509-source.js';

/**
 * What the metrics module publishes about a source (as linkerd2-proxy's identity metrics):
 * read the fields at scrape time. No metrics library here; identity stays transport-free.
 */
export interface IdentityStats {
  /** notAfter of the certificate in force, in Unix seconds (NaN before the first value). */
  readonly expiryTimestampSeconds: number;
  /** Thumbprint (x5t#S256) of the certificate in force. */
  readonly thumbprint: string | undefined;
  /**
   * Updates after the first value: `ok` published, `rejected` refused by check-before-publish
   * (for files: a candidate that stayed invalid through the hold, never a transient partial
   * read) or a failed renewal.
   */
  readonly rotations: { readonly ok: number; readonly rejected: number };
  /** Code of the last rejected update, cleared by the next published one. */
  readonly lastErrorCode: ErrorCode | undefined;
  /** Stops following the source. */
  close(): void;
}

/**
 * Follows `source` and keeps counts for metrics. The value replayed to a new listener
 * is the baseline, not a rotation.
 */
export function watchIdentityStats(source: X509Source): IdentityStats {
  let current: WorkloadIdentity | undefined;
  let lastErrorCode: ErrorCode | undefined;
  const rotations = { ok: 0, rejected: 0 };
  try {
    current = source.current();
  } catch {
    current = undefined;
  }
  const offUpdate = source.onUpdate((identity) => {
    if (identity === current) return;
    if (current !== undefined) rotations.ok++;
    current = identity;
    lastErrorCode = undefined;
  });
  const offError = source.onError((error) => {
    rotations.rejected++;
    lastErrorCode = error.code;
  });
  return {
    get expiryTimestampSeconds() {
      return current === undefined ? Number.NaN : current.notAfter.getTime() / 1000;
    },
    get thumbprint() {
      return current?.thumbprint;
    },
    get rotations() {
      return { ...rotations };
    },
    get lastErrorCode() {
      return lastErrorCode;
    },
    close() {
      offUpdate();
      offError();
    },
  };
}
