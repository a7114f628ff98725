import { constants, Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import { grpcStatusOf } from './grpc-status.js';

/**
 * Ends a gRPC request over node:http2 with the status of `err` (a CertboundError maps through
 * the error table). Before the response headers went out it answers trailers-only — one
 * HEADERS frame with END_STREAM carrying `grpc-status` and `grpc-message` (gRPC over HTTP/2
 * spec) — never an HTTP 401; afterwards it can only reset the stream.
 */
export function writeGrpcError(
  target: Http2ServerResponse | ServerHttp2Stream,
  err: unknown,
): void {
  const stream = target instanceof Http2ServerResponse ? target.stream : target;
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const status = grpcStatusOf(err);
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(status.code),
      'grpc-message': percentEncode(status.details),
    },
    { endStream: true },
  );
}

/** gRPC over HTTP/2: grpc-message is percent-encoded outside printable ASCII, and `%` itself. */
function percentEncode(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/g, (c) =>
    [...Buffer.from(c, 'utf8')]
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}
