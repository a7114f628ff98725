import type { CertboundConfig } from '../config/schema.js';
import { CertboundError } from '../errors.js';
import { FailureLog } from '../identity/identity-logger.js';
import type { Logger } from '../observability/logger.js';
import { createVerifier, type Verifier } from '../verify/create-verifier.js';
import type { JwksOption } from '../verify/options.js';
import { retryUntil } from './retry-until.js';

/** The verifier `verify` configures (durations converted to the library's units). */
export function verifierOf(v: NonNullable<CertboundConfig['verify']>, jwks: JwksOption): Verifier {
  return createVerifier({
    jwks,
    issuer: v.issuer,
    audience: v.audience,
    ...(v.algorithms !== undefined ? { algorithms: v.algorithms } : {}),
    ...(v.types !== undefined ? { types: v.types } : {}),
    clockToleranceSec: v.clockTolerance / 1000,
    maxTokenLifetimeSec: v.maxTokenLifetime / 1000,
    maxTokenBytes: v.maxTokenBytes,
    cacheSize: v.cacheSize,
  });
}

/**
 * Warm-up: fetches the JWKS before traffic arrives, retrying with backoff until it works
 * or `stopped()`; each distinct failure is logged once (at error level when a retry cannot
 * fix it), the recovery once.
 */
export function warmUpKeys(verifier: Verifier, logger: Logger, stopped: () => boolean): void {
  const log = logger.child({ component: 'verify' });
  const failures = new FailureLog(log);
  void retryUntil(
    () => verifier.refreshKeys(),
    stopped,
    (err, tries, retryInMs) => {
      const error =
        err instanceof CertboundError
          ? err
          : new CertboundError('ERR_JWKS_UNAVAILABLE', undefined, { cause: err });
      failures.failure(
        `${error.code}|${error.message}`,
        { code: error.code, ...error.details, tries, retryInMs },
        `JWKS not usable yet (retrying with backoff): ${error.message}`,
        error.details['permanent'] === true ? 'error' : 'warn',
      );
    },
  ).then((ok) => {
    if (ok && failures.reset()) log.info('JWKS fetched');
  });
}
