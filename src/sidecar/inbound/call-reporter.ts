import { isCertboundError, type ErrorCode } from '../../errors.js';
import { interactionIdOfRequest } from '../../http/adopt-interaction-id.js';
import { writeBearerError, type BearerErrorOptions } from '../../http/bearer-error-response.js';
import { connectionPeerOf, type AnyRequest } from '../../http/connection-peer.js';
import type { InboundRecorder } from '../../observability/inbound-recorder.js';
import type { Logger } from '../../observability/logger.js';
import type { Principal } from '../../verify/principal.js';
import type { RequestTarget } from '../../verify/request-path.js';
import type { AnyResponse } from './any-response.js';
import { isGrpc } from './request-shape.js';

/** How the proxy's request paths report the end of a call. */
export interface CallReporter {
  /** Counts and access-logs one call through the recorder. */
  record(
    req: AnyRequest,
    status: number,
    code: ErrorCode | undefined,
    principal: Principal | undefined,
    started: number,
    target: RequestTarget | undefined,
  ): void;
  /** Answers an HTTP call with the bearer error for `err`, then records it. */
  fail(
    req: AnyRequest,
    res: AnyResponse,
    err: unknown,
    started: number,
    target: RequestTarget | undefined,
  ): void;
}

/**
 * The one reporting path of the inbound proxy, for HTTP and gRPC alike. Logs an error that
 * is not a {@link CertboundError}; never logs the query or a refused target.
 */
export function createCallReporter(
  recorder: InboundRecorder,
  logger: Logger,
  bearer: BearerErrorOptions = {},
): CallReporter {
  function record(
    req: AnyRequest,
    status: number,
    code: ErrorCode | undefined,
    principal: Principal | undefined,
    started: number,
    target: RequestTarget | undefined,
  ): void {
    recorder.record({
      transport: isGrpc(req) ? 'grpc' : 'http',
      method: req.method ?? 'GET',
      // Only the normalised path (what the policy judged and the app got): a query may
      // carry secrets (e.g. a refused access_token); a refused target is not logged.
      path: target?.path,
      status,
      code,
      principal,
      peer: principal === undefined ? connectionPeerOf(req) : undefined,
      startedAt: started,
      traceparent: req.headers['traceparent'] as string | undefined,
      request: req,
      interactionId: interactionIdOfRequest(req),
    });
  }

  function fail(
    req: AnyRequest,
    res: AnyResponse,
    err: unknown,
    started: number,
    target: RequestTarget | undefined,
  ): void {
    if (!isCertboundError(err)) logger.error({ err }, 'inbound request failed unexpectedly');
    const response = writeBearerError(res, err, bearer);
    record(req, response.status, response.code, undefined, started, target);
  }

  return { record, fail };
}
