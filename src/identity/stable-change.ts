import type { IdentityFilesSnapshot } from './identity-files-snapshot.js';
import type { RotationVerdict } from './rotation-verdict.js';
import type { WorkloadIdentity } from './workload-identity.js';

// A writer still busy after this many quiet periods is chased again on the next signal.
const MAX_STABILITY_ROUNDS = 20;

/** What {@link awaitStableChange} needs from its source. */
export interface StableChangeProbe {
  /** Digest of the content last acted on. */
  readonly lastDigest: string;
  /** Reads the files once. */
  read(): Promise<IdentityFilesSnapshot>;
  /** Waits one quiet period. */
  pause(): Promise<void>;
  /** True once the source is closed: stop without deciding. */
  closed(): boolean;
  /** What a settled snapshot would do. */
  verdictOf(snapshot: IdentityFilesSnapshot): RotationVerdict;
  /** A publish held for one more quiet period (it drops a trusted CA). */
  onHeld(identity: WorkloadIdentity): void;
}

/** A settled change to act on: its digest becomes the new last digest. */
export interface StableChange {
  readonly digest: string;
  readonly verdict: RotationVerdict;
}

/**
 * Change detection for file-based identities: acts only on content that two reads a quiet
 * period apart agree on (a writer may be between two files, or between two halves of one).
 * An invalid candidate, or one that drops a trusted CA, must agree once more: a partial
 * write is never rejected or published just because the writer paused.
 *
 * @returns the settled change, or `undefined` when there is nothing to do (no change, the
 *   content went back to the last digest, the source closed, or the files kept changing)
 */
export async function awaitStableChange(
  probe: StableChangeProbe,
): Promise<StableChange | undefined> {
  let candidate = await probe.read();
  if (candidate.digest === probe.lastDigest) return undefined;
  let confirmed = 0;
  for (let round = 0; round < MAX_STABILITY_ROUNDS && !probe.closed(); round++) {
    await probe.pause();
    if (probe.closed()) return undefined;
    const again = await probe.read();
    if (again.digest !== candidate.digest) {
      candidate = again;
      confirmed = 0;
      continue;
    }
    if (candidate.digest === probe.lastDigest) return undefined;
    const verdict = probe.verdictOf(candidate);
    if (verdict.kind === 'same') return { digest: candidate.digest, verdict };
    const held = verdict.kind === 'reject' || verdict.hold;
    if (held && confirmed === 0) {
      confirmed = 1;
      if (verdict.kind === 'publish') probe.onHeld(verdict.identity);
      continue;
    }
    return { digest: candidate.digest, verdict };
  }
  // Still changing after the last round: the next change event or poll tries again.
  return undefined;
}
