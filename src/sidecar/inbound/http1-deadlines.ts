import type { Http2SecureServer } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { CertboundError } from '../../errors.js';
import { bearerErrorResponseOf } from '../../http/bearer-error-response.js';
import type { AnyRequest } from '../../http/connection-peer.js';
import type { SidecarMetrics } from '../../observability/metrics.js';
import type { AnyResponse } from './any-response.js';
import { rawBearerErrorOf } from './raw-bearer-error.js';
import { requestHasBody } from '../../http/request-has-body.js';

/**
 * The headers deadline of HTTP/1.1 connections on an http2 server: node checks
 * `headersTimeout` only inside http.Server, so HTTP/1.1 on an http2 server gets no check and
 * a client that never finishes (slowloris) or never starts its headers would hold its
 * connection forever. The deadline runs from connect / end of a response to the next request;
 * when it passes, the server's `clientError` handler answers `ERR_HTTP_REQUEST_TIMEOUT`.
 */
export class HeaderDeadlines {
  readonly #server: Http2SecureServer;
  readonly #timeoutMs: number;
  readonly #timers = new WeakMap<object, NodeJS.Timeout>();

  constructor(server: Http2SecureServer, timeoutMs: number) {
    this.#server = server;
    this.#timeoutMs = timeoutMs;
  }

  /** (Re)starts the deadline of `socket`: its next request's headers must arrive in time. */
  arm(socket: TLSSocket): void {
    clearTimeout(this.#timers.get(socket));
    const timer = setTimeout(() => {
      if (!socket.writable) return socket.destroy();
      socket.once('finish', () => socket.destroy());
      const err = Object.assign(new Error('request headers timed out'), {
        code: 'ERR_HTTP_REQUEST_TIMEOUT',
      });
      this.#server.emit('clientError', err, socket);
    }, this.#timeoutMs);
    timer.unref();
    this.#timers.set(socket, timer);
  }

  /** Headers arrived on `socket` (or it closed): its deadline is off. */
  clear(socket: object): void {
    clearTimeout(this.#timers.get(socket));
  }
}

/**
 * Starts the body deadline of one HTTP/1.1 request: like the headers deadline, node's
 * `requestTimeout` is only checked inside http.Server, so a client that sends headers then
 * dribbles (or stops sending) its body gets a raw `408 ERR_REQUEST_TIMEOUT` here and its
 * connection is closed. Bodiless requests are complete with their headers and get no timer.
 */
export function armBodyDeadline(
  req: AnyRequest,
  res: AnyResponse,
  timeoutMs: number,
  metrics: SidecarMetrics | undefined,
): void {
  if (!requestHasBody(req)) return;
  const timer = setTimeout(() => {
    if (req.complete) return;
    const socket = req.socket as TLSSocket;
    metrics?.inboundRequests.inc({ result: 'rejected', code: 'ERR_REQUEST_TIMEOUT' });
    if (!res.headersSent && socket.writable) {
      socket.end(
        rawBearerErrorOf(bearerErrorResponseOf(new CertboundError('ERR_REQUEST_TIMEOUT'))),
      );
    }
    socket.destroySoon();
  }, timeoutMs);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}
