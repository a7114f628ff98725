import type { Logger } from 'pino';
import type { ReadinessCheck } from '../readiness-check.js';
import { identityLogger } from './identity-logger.js';
import type { WorkloadIdentity } from './workload-identity.js';
import type { X509Source } from './x509-source.js';

/** Options of {@link watchCertificateValidity}. */
export interface CertificateValidityOptions {
  /**
   * Warn when the certificate in force expires within this many ms and has not been
   * replaced (its renewal is late). Default: a fifth of the certificate's lifetime.
   */
  expiryWarningMs?: number;
  /** Parent logger; lines go through its `identity` child. Default silent. */
  logger?: Logger;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** The `certificate` readiness check of a source, and whether its renewal is late. */
export interface CertificateValidity extends ReadinessCheck {
  /**
   * True from the start of the warning window of the certificate in force until a new
   * certificate is published (also after notAfter): its renewal is late.
   */
  readonly expiring: boolean;
  /** Stops following the source and its timer. */
  close(): void;
}

// setTimeout fires at once for delays above 2^31 - 1 ms (≈ 24.8 days): wait in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Follows `source` and tells the truth about the certificate in force: not ready once its
 * notAfter has passed (or before its notBefore) — every handshake with it would fail —
 * with the reason naming the certificate and the time. Logs one warning when it enters its
 * last `expiryWarningMs` without having been replaced, and one error when it expires; both
 * are logged by a timer at that moment (not by probes), once per certificate.
 */
export function watchCertificateValidity(
  source: X509Source,
  options: CertificateValidityOptions = {},
): CertificateValidity {
  const now = options.now ?? Date.now;
  const log = identityLogger(options.logger);
  let current: WorkloadIdentity = source.current();
  let warned = false;
  let expiredLogged = false;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const warnAt = (identity: WorkloadIdentity): number => {
    const notAfter = identity.notAfter.getTime();
    const lifetime = notAfter - identity.notBefore.getTime();
    return notAfter - (options.expiryWarningMs ?? lifetime / 5);
  };
  const fields = (identity: WorkloadIdentity) => ({
    thumbprint: identity.thumbprint,
    spiffeId: identity.spiffeId,
    notAfter: identity.notAfter.toISOString(),
  });

  function evaluate(): void {
    const t = now();
    const notAfter = current.notAfter.getTime();
    if (!expiredLogged && t >= notAfter) {
      expiredLogged = warned = true;
      log.error(
        fields(current),
        `the workload certificate expired at ${current.notAfter.toISOString()} and no valid replacement was loaded: peers refuse its handshakes and /readyz answers 503`,
      );
    } else if (!warned && t >= warnAt(current)) {
      warned = true;
      log.warn(
        { ...fields(current), expiresInSec: Math.round((notAfter - t) / 1000) },
        `the workload certificate expires at ${current.notAfter.toISOString()} and has not been renewed yet: check its issuer`,
      );
    }
  }

  function schedule(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (closed || expiredLogged) return;
    const at = warned ? current.notAfter.getTime() : warnAt(current);
    timer = setTimeout(
      () => {
        timer = undefined;
        evaluate();
        schedule();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - now())),
    );
    timer.unref();
  }

  const offUpdate = source.onUpdate((identity) => {
    if (identity === current) return;
    current = identity;
    warned = expiredLogged = false;
    evaluate();
    schedule();
  });
  evaluate();
  schedule();

  return {
    name: 'certificate',
    check() {
      const t = now();
      if (t >= current.notAfter.getTime()) {
        return {
          ok: false,
          reason: `certificate ${current.thumbprint} expired at ${current.notAfter.toISOString()} (notAfter) and no valid replacement was loaded.`,
        };
      }
      if (t < current.notBefore.getTime()) {
        return {
          ok: false,
          reason: `certificate ${current.thumbprint} is not valid before ${current.notBefore.toISOString()} (notBefore): check the clock.`,
        };
      }
      return { ok: true };
    },
    get expiring() {
      return now() >= warnAt(current);
    },
    close() {
      closed = true;
      offUpdate();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
