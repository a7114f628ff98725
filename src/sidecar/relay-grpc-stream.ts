import {
  constants,
  type ClientHttp2Session,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { CertboundError, GrpcCode, type ErrorCode } from '../errors.js';
import { writeGrpcError } from '../grpc/trailers-only.js';
import { isHopByHop } from './forward-headers.js';

// RFC 9113 §8.2.2: connection-specific fields must not appear in HTTP/2, except `te:
// trailers`, which gRPC requires; `host` becomes `:authority`.
function dropped(name: string): boolean {
  return name === 'host' || (name !== 'te' && isHopByHop(name));
}

/**
 * Request headers for the next hop: the caller's gRPC metadata minus pseudo-headers,
 * hop-by-hop fields and whatever `drop` says, plus `extra`.
 */
export function forwardHeaders(
  incoming: IncomingHttpHeaders,
  target: URL,
  drop: (name: string) => boolean,
  extra: ReadonlyArray<readonly [string, string]>,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ':method': 'POST',
    ':scheme': target.protocol === 'https:' ? 'https' : 'http',
    ':authority': target.host,
    ':path': incoming[':path'] ?? '/',
  };
  for (const [name, value] of Object.entries(incoming)) {
    if (name.startsWith(':') || dropped(name) || drop(name) || value === undefined) continue;
    out[name] = value;
  }
  for (const [name, value] of extra) out[name] = value;
  return out;
}

/**
 * How a relayed call ended: the app's `grpc-status` (undefined when the stream closed
 * without one, e.g. the caller cancelled), and certbound's code when it answered itself.
 */
export type RelayEnd = (grpcStatus: number | undefined, code?: ErrorCode) => void;

function grpcStatusOf(headers: IncomingHttpHeaders): number | undefined {
  const value = Number(headers['grpc-status']);
  return Number.isInteger(value) ? value : undefined;
}

/**
 * Relays one gRPC call between a downstream node:http2 request and an upstream session:
 * request body up, response headers, body and trailers (`grpc-status`, `grpc-message`)
 * down, cancellation both ways. A failure before the response started is answered
 * trailers-only with `unreachable` as the stable code.
 */
export function relayGrpcStream(
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  unreachable: ErrorCode,
  onEnd?: RelayEnd,
  responseExtra?: Readonly<Record<string, string>>,
): void {
  const downstream = res.stream;
  let ended = false;
  // Reported once: the app's grpc-status, or the stable code certbound answered with.
  const end = (grpcStatus: number | undefined, code?: ErrorCode): void => {
    if (ended) return;
    ended = true;
    onEnd?.(grpcStatus, code);
  };
  const fail = (err?: unknown): void => {
    const error = new CertboundError(unreachable, undefined, { cause: err });
    writeGrpcError(downstream, error, responseExtra);
    end(error.mapping.grpc, unreachable);
  };
  let upstream;
  try {
    upstream = session.request(headers, { endStream: false });
  } catch (err) {
    fail(err);
    return;
  }
  let trailers = false;
  let finished = false;

  upstream.on('response', (responseHeaders, flags) => {
    if (downstream.destroyed) return;
    // `responseExtra` (e.g. the interaction id) replaces what the app set under those names.
    const out = { ...responseHeadersOf(responseHeaders), ...responseExtra };
    // gRPC trailers-only answer from the app: pass it on as one HEADERS frame.
    if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
      finished = true;
      downstream.respond(out, { endStream: true });
      end(grpcStatusOf(responseHeaders));
      return;
    }
    downstream.respond(out, { waitForTrailers: true });
    upstream.pipe(downstream, { end: false });
  });
  // The compat response owns `wantTrailers` on this stream and sends what addTrailers got.
  upstream.on('trailers', (received: IncomingHttpHeaders) => {
    trailers = true;
    res.addTrailers(responseHeadersOf(received, false));
    end(grpcStatusOf(received));
  });
  upstream.on('end', () => {
    if (finished || !downstream.headersSent || downstream.destroyed) return;
    finished = true;
    if (!trailers) {
      res.addTrailers({
        'grpc-status': String(GrpcCode.INTERNAL),
        'grpc-message': 'upstream sent no grpc-status',
      });
      end(GrpcCode.INTERNAL);
    }
    downstream.end();
  });
  upstream.on('error', (err) => {
    if (finished) return;
    fail(err);
  });
  upstream.on('close', () => {
    if (finished || downstream.destroyed) return;
    if (!downstream.headersSent) {
      fail();
    } else if (upstream.rstCode !== undefined && upstream.rstCode !== constants.NGHTTP2_NO_ERROR) {
      downstream.close(upstream.rstCode);
    }
  });
  // The caller went away (cancel, deadline): cancel the upstream call too.
  downstream.on('close', () => {
    if (!upstream.closed && !upstream.destroyed) upstream.close(constants.NGHTTP2_CANCEL);
    end(undefined);
  });
  req.pipe(upstream);
}

function responseHeadersOf(headers: IncomingHttpHeaders, withStatus = true): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = withStatus ? { ':status': headers[':status'] ?? 200 } : {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || dropped(name) || value === undefined) continue;
    out[name] = value;
  }
  return out;
}
