import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { PeerIdentity } from '../../binding/peer-identity.js';
import { writeGrpcError, writeGrpcUnimplemented } from '../../grpc/trailers-only.js';
import { connectionPeerOf } from '../../http/connection-peer.js';
import { httpRequestTargetOf } from '../../http/verify-http-request.js';
import { interactionIdHeaderOf } from '../../observability/interaction-id.js';
import type { RequestTarget } from '../../verify/request-path.js';
import type { CallReporter } from './call-reporter.js';
import type { MeteredVerify } from './metered-verify.js';

/**
 * Handles a gRPC call (HTTP/2, `content-type: application/grpc*`): the gRPC layer plugs in
 * here (`createGrpcForwarder`) and verifies the call itself against `peer`, the verified
 * certificate of this connection (computed once per connection), answering refusals as
 * Trailers-Only gRPC statuses.
 */
export type InboundGrpcHandler = (
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  peer: PeerIdentity | null,
) => void;

/** Options of {@link createGrpcDispatch}. */
export interface GrpcDispatchOptions {
  /** Where admitted calls go; without one, verified calls get UNIMPLEMENTED. */
  readonly handler?: InboundGrpcHandler;
  readonly verify: MeteredVerify;
  readonly reporter: CallReporter;
}

/** Dispatches one admitted gRPC call. */
export type GrpcDispatch = (
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  started: number,
) => void;

/**
 * The gRPC path of the inbound proxy, after the header-size and concurrency checks: hands
 * the call to the gRPC handler, or (none configured) verifies it and answers UNIMPLEMENTED;
 * refusals are Trailers-Only gRPC statuses.
 */
export function createGrpcDispatch(options: GrpcDispatchOptions): GrpcDispatch {
  const { handler, verify, reporter } = options;
  return (req, res, started) => {
    if (handler !== undefined) {
      handler(req, res, connectionPeerOf(req));
      return;
    }
    // The proxy settled the id on the request; refusals carry it in their one HEADERS frame.
    const extra = interactionIdHeaderOf(req.headers);
    let target: RequestTarget;
    try {
      target = httpRequestTargetOf(req);
    } catch (err) {
      const code = writeGrpcError(res, err, extra);
      reporter.record(req, 200, code, undefined, started, undefined);
      return;
    }
    verify(req, target).then(
      (principal) => {
        writeGrpcUnimplemented(res, extra);
        reporter.record(req, 200, undefined, principal, started, target);
      },
      (err: unknown) => {
        const code = writeGrpcError(res, err, extra);
        reporter.record(req, 200, code, undefined, started, target);
      },
    );
  };
}
