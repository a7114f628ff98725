import type { X509Certificate } from 'node:crypto';

/** Longest path tried, leaf and anchor included (deeper PKIs are not a service mesh). */
export const MAX_CHAIN_DEPTH = 8;

/** A path from the leaf to a trust anchor, and the window in which every certificate of it is valid. */
export interface VerifiedChain {
  readonly ok: true;
  /** Latest notBefore on the path, in ms since the epoch. */
  readonly validFromMs: number;
  /** Earliest notAfter on the path, in ms since the epoch. */
  readonly validToMs: number;
}

/** Why no path to a trust anchor was found. */
export interface ChainRefusal {
  readonly ok: false;
  /** `untrusted`: no path to an anchor; `expired` / `not-yet-valid`: a path, outside its validity. */
  readonly problem: 'untrusted' | 'expired' | 'not-yet-valid';
  /** In words, without the certificate. */
  readonly reason: string;
}

interface Path {
  readonly validFromMs: number;
  readonly validToMs: number;
}

function windowOf(cert: X509Certificate): Path {
  return { validFromMs: Date.parse(cert.validFrom), validToMs: Date.parse(cert.validTo) };
}

function narrowed(a: Path, b: Path): Path {
  return {
    validFromMs: Math.max(a.validFromMs, b.validFromMs),
    validToMs: Math.min(a.validToMs, b.validToMs),
  };
}

/** Every path (as its validity window) from `cert` to an anchor, depth first. */
function pathsFrom(
  cert: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  used: ReadonlySet<X509Certificate>,
  depth: number,
  out: Path[],
): void {
  if (depth >= MAX_CHAIN_DEPTH) return;
  // RFC 5280 §6.1.3 (a)(1)(4): the issuer's name and key match, and its key verifies the signature.
  const issues = (issuer: X509Certificate): boolean =>
    cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  for (const anchor of anchors) {
    if (issues(anchor)) out.push(windowOf(anchor));
  }
  for (const next of intermediates) {
    // RFC 5280 §6.1.4 (k): only a CA certificate may issue another certificate.
    if (used.has(next) || next.ca !== true || !issues(next)) continue;
    const deeper: Path[] = [];
    pathsFrom(next, intermediates, anchors, new Set([...used, next]), depth + 1, deeper);
    for (const p of deeper) out.push(narrowed(windowOf(next), p));
  }
}

/**
 * Finds a certification path from `leaf` through `intermediates` (any order, as sent) to one
 * of `anchors`, valid at `nowMs` for every certificate on it (anchor included, as OpenSSL
 * checks it). Pure: certificates in, verdict out; the caller maps it to its error code.
 *
 * Does not check the leaf's own rules (see `checkClientLeaf`), path-length or name
 * constraints, certificate policies, key usage bits, nor revocation — the same scope as the
 * TLS stack's default verification of a client certificate, minus those extensions.
 */
export function verifyCertificateChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  nowMs: number,
): VerifiedChain | ChainRefusal {
  const paths: Path[] = [];
  pathsFrom(leaf, intermediates, anchors, new Set([leaf]), 1, paths);
  if (paths.length === 0)
    return {
      ok: false,
      problem: 'untrusted',
      reason: 'it does not chain to the trust bundle',
    };
  const own = windowOf(leaf);
  const windows = paths.map((p) => narrowed(own, p));
  const valid = windows.find((w) => w.validFromMs <= nowMs && nowMs <= w.validToMs);
  if (valid !== undefined) return { ok: true, ...valid };
  const early = windows.every((w) => nowMs < w.validFromMs);
  return early
    ? {
        ok: false,
        problem: 'not-yet-valid',
        reason: 'it (or a certificate of its chain) is not valid yet',
      }
    : { ok: false, problem: 'expired', reason: 'it (or a certificate of its chain) has expired' };
}
