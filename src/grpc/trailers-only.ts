import { constants, Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import { CertboundError, GrpcCode, isCertboundError } from '../errors.js';
import { dpopNonceOf } from '../verify/dpop/dpop-challenge.js';

/**
 * gRPC over HTTP/2 wire format, shared by the HTTP listener (which must answer gRPC callers
 * in gRPC terms) and the gRPC layer. Depends only on the error table.
 */

/** `"<ERR_CODE>: <message>"` with characters that are illegal in a header value removed. */
export function grpcDetailsOf(err: CertboundError): string {
  return `${err.code}: ${err.message}`.replace(/[^\x20-\x7e]/g, '?');
}

/** gRPC over HTTP/2: grpc-message is percent-encoded outside printable ASCII, and `%` itself. */
function percentEncodeGrpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/g, (c) =>
    [...Buffer.from(c, 'utf8')]
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}

/**
 * Ends a gRPC request with a Trailers-Only response — one HEADERS frame with END_STREAM
 * carrying `grpc-status` and `grpc-message` (gRPC over HTTP/2 spec) — never an HTTP 401.
 * After the response headers went out it can only reset the stream. `extra` headers (already
 * validated values, e.g. `x-fapi-interaction-id`) go in the same HEADERS frame.
 */
export function writeGrpcStatus(
  target: Http2ServerResponse | ServerHttp2Stream,
  code: number,
  details: string,
  extra?: Readonly<Record<string, string>>,
): void {
  const stream = target instanceof Http2ServerResponse ? target.stream : target;
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  stream.respond(
    {
      ...extra,
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(code),
      'grpc-message': percentEncodeGrpcMessage(details),
    },
    { endStream: true },
  );
}

/**
 * Answers a gRPC request with the status of `err` (a CertboundError maps through the error
 * table; anything else is `ERR_INTERNAL`, whose own text may not be secret-free).
 *
 * @returns the stable code that was sent
 */
export function writeGrpcError(
  target: Http2ServerResponse | ServerHttp2Stream,
  err: unknown,
  extra?: Readonly<Record<string, string>>,
): CertboundError['code'] {
  const error = isCertboundError(err) ? err : new CertboundError('ERR_INTERNAL');
  // RFC 9449 §8: the nonce a DPoP client must use on its retry (already validated).
  const nonce = dpopNonceOf(error.details);
  writeGrpcStatus(
    target,
    error.mapping.grpc,
    grpcDetailsOf(error),
    nonce !== undefined ? { ...extra, 'dpop-nonce': nonce } : extra,
  );
  return error.code;
}

/** Answers `UNIMPLEMENTED`: no gRPC handler is installed in this listener. */
export function writeGrpcUnimplemented(
  res: Http2ServerResponse,
  extra?: Readonly<Record<string, string>>,
): void {
  writeGrpcStatus(
    res,
    GrpcCode.UNIMPLEMENTED,
    'gRPC forwarding is not enabled in this sidecar',
    extra,
  );
}
