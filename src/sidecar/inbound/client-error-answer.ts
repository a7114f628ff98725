import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { CertboundError } from '../../errors.js';
import { bearerErrorResponseOf } from '../../http/bearer-error-response.js';
import type { SidecarMetrics } from '../../observability/metrics.js';
import { rawBearerErrorOf } from './raw-bearer-error.js';

/**
 * The `clientError` handler of the inbound listener: answers an HTTP/1.1 parser refusal
 * (header block too large → 431, request timed out → 408, anything else → bare 400) and
 * closes the connection; a peer that already went away gets nothing.
 */
export function answerClientError(
  err: Error & { code?: string },
  socket: Duplex,
  metrics: SidecarMetrics | undefined,
): void {
  // Metrics carry certbound's stable codes only (node's codes are mapped or grouped).
  const code =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'ERR_HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'ERR_REQUEST_TIMEOUT'
        : 'ERR_INVALID_REQUEST';
  // A peer that went away (reset, closed) made no request: nothing to answer or count.
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  metrics?.inboundRequests.inc({ result: 'rejected', code });
  // FAPI 2.0 Implementation Advice §2.2.1: no request was parsed, so the id is a fresh one.
  const interactionId = randomUUID();
  if (code === 'ERR_INVALID_REQUEST') {
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nconnection: close\r\nx-fapi-interaction-id: ${interactionId}\r\ncontent-length: 0\r\n\r\n`,
    );
  } else {
    const response = bearerErrorResponseOf(new CertboundError(code));
    socket.end(
      rawBearerErrorOf({
        ...response,
        headers: { ...response.headers, 'x-fapi-interaction-id': interactionId },
      }),
    );
  }
}
