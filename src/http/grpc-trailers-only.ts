import type { Http2ServerResponse } from 'node:http2';
import { CertboundError, ERROR_TABLE, isCertboundError } from '../errors.js';

/**
 * Answers a gRPC call with a Trailers-Only response (gRPC over HTTP/2 spec): HTTP 200,
 * `grpc-status` from the error table and a percent-encoded `grpc-message`, no body.
 */
export function writeGrpcError(res: Http2ServerResponse, err: unknown): CertboundError['code'] {
  const error = isCertboundError(err) ? err : new CertboundError('ERR_INTERNAL');
  if (res.headersSent) {
    res.destroy();
    return error.code;
  }
  res.writeHead(200, {
    'content-type': 'application/grpc',
    'grpc-status': String(ERROR_TABLE[error.code].grpc),
    'grpc-message': encodeURIComponent(`${error.code}: ${error.message}`),
  });
  res.end();
  return error.code;
}

/** Answers `UNIMPLEMENTED` (12): no gRPC handler is installed in this listener. */
export function writeGrpcUnimplemented(res: Http2ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'application/grpc',
    'grpc-status': '12',
    'grpc-message': encodeURIComponent('gRPC forwarding is not enabled in this sidecar'),
  });
  res.end();
}
