import type { AnyRequest } from '../../http/connection-peer.js';
import { verifyHttpRequest, type HttpVerifyOptions } from '../../http/verify-http-request.js';
import { isCertboundError } from '../../errors.js';
import type { SidecarMetrics } from '../../observability/metrics.js';
import { endVerifySpan, startVerifySpan, tracingActive } from '../../observability/tracing.js';
import type { Principal } from '../../verify/principal.js';
import type { RequestTarget } from '../../verify/request-path.js';

/** Verifies one request against its already-read target; see {@link verifyHttpRequest}. */
export type MeteredVerify = (req: AnyRequest, target: RequestTarget) => Promise<Principal>;

/**
 * {@link verifyHttpRequest} timed into `verifyDuration` (result `ok` or `rejected`).
 * Adds no check of its own.
 */
export function createMeteredVerify(
  options: HttpVerifyOptions,
  metrics: SidecarMetrics | undefined,
): MeteredVerify {
  // The hot path's label sets, bound once (prom-client hashes a label object per call).
  const okVerifications = metrics?.verifyDuration.labels({ result: 'ok' });
  return async (req, target) => {
    const startedVerify = performance.now();
    const span = tracingActive() ? startVerifySpan(req) : undefined;
    try {
      const principal = await verifyHttpRequest(req, options, target);
      okVerifications?.observe((performance.now() - startedVerify) / 1000);
      endVerifySpan(span, undefined);
      return principal;
    } catch (err) {
      metrics?.verifyDuration.observe(
        { result: 'rejected' },
        (performance.now() - startedVerify) / 1000,
      );
      endVerifySpan(span, isCertboundError(err) ? err.code : 'ERR_INTERNAL');
      throw err;
    }
  };
}
