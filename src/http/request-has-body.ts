import type { IncomingHttpHeaders } from 'node:http';

/** The head of an HTTP/1.1 (`IncomingMessage`) or HTTP/2 (`Http2ServerRequest`) request. */
export type RequestHead =
  | { readonly headers: IncomingHttpHeaders }
  | {
      readonly headers: IncomingHttpHeaders;
      readonly stream: { readonly endAfterHeaders: boolean };
    };

/**
 * Whether a request carries a body to forward (or to wait for). HTTP/1.1 (RFC 9112 §6.3):
 * a `Transfer-Encoding`, or a `Content-Length` other than 0 — node's parser has already
 * refused invalid or conflicting lengths. HTTP/2 (RFC 9113 §8.1): unless END_STREAM came
 * with the HEADERS frame, whatever `content-length` says.
 */
export function requestHasBody(req: RequestHead): boolean {
  if ('stream' in req) return !req.stream.endAfterHeaders;
  const length = req.headers['content-length'];
  return (
    (length !== undefined && Number(length) !== 0) || req.headers['transfer-encoding'] !== undefined
  );
}
