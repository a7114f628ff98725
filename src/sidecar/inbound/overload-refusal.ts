import type { Http2ServerResponse } from 'node:http2';
import { CertboundError } from '../../errors.js';
import { writeBearerError } from '../../http/bearer-error-response.js';
import type { AnyRequest } from '../../http/connection-peer.js';
import { writeGrpcError } from '../../grpc/trailers-only.js';
import { interactionIdHeaderOf } from '../../observability/interaction-id.js';
import type { AnyResponse } from './any-response.js';
import type { CallReporter } from './call-reporter.js';
import type { OverloadedBy } from './concurrency-limit.js';

/**
 * Refuses a request the concurrency limit did not admit: `503 ERR_OVERLOADED` with
 * `Retry-After` (HTTP, from the error table) or the matching Trailers-Only status (gRPC), naming which limit
 * (`by`) was hit. Runs before verification, so it records no principal.
 */
export function refuseOverloaded(
  req: AnyRequest,
  res: AnyResponse,
  grpc: boolean,
  by: OverloadedBy,
  started: number,
  reporter: CallReporter,
): void {
  const err = new CertboundError(
    'ERR_OVERLOADED',
    by === 'peer'
      ? 'Too many requests in flight from this client certificate; retry later.'
      : 'Too many requests in flight on this connection; retry later.',
  );
  // Refused before verification, so no client id: the recorder names the certificate.
  // Read and discard what the client still sends, so the stream can end cleanly.
  req.resume();
  if (grpc) {
    const code = writeGrpcError(
      res as Http2ServerResponse,
      err,
      interactionIdHeaderOf(req.headers),
    );
    reporter.record(req, 200, code, undefined, started, undefined);
    return;
  }
  // Retry-After comes from the error table (ERR_OVERLOADED.retryAfterSec).
  const response = writeBearerError(res, err);
  reporter.record(req, response.status, response.code, undefined, started, undefined);
}
