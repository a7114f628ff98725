import type { Http2ServerRequest } from 'node:http2';
import type { AnyRequest } from '../../http/connection-peer.js';
import type { RequestTarget } from '../../verify/request-path.js';

/** Bytes of the request's header block as received (names, values and separators). */
export function headerBytesOf(req: AnyRequest): number {
  let total = 0;
  for (const part of req.rawHeaders) total += part.length + 2;
  return total;
}

/** True for an HTTP/2 request (compatibility API). */
export function isHttp2(req: AnyRequest): req is Http2ServerRequest {
  return 'stream' in req;
}

/** True for a gRPC call: HTTP/2 with `content-type: application/grpc*`. */
export function isGrpc(req: AnyRequest): boolean {
  return isHttp2(req) && (req.headers['content-type'] ?? '').startsWith('application/grpc');
}

/** The host the client addressed, for the app's `Host` / forwarded headers. */
export function hostOf(req: AnyRequest, target: RequestTarget): string | undefined {
  // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
  return target.authority ?? (req.headers[':authority'] as string | undefined) ?? req.headers.host;
}
