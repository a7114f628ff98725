import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import { Pool } from 'undici';
import { CertboundError, isCertboundError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { SidecarMetrics } from '../observability/metrics.js';
import type { Principal } from '../verify/principal.js';
import { bearerErrorResponseOf, writeBearerError } from './bearer-error-response.js';
import { ConcurrencyLimit, type OverloadedBy } from './concurrency-limit.js';
import type { PeerIdentity } from '../binding/peer-identity.js';
import { connectionPeerOf, type AnyRequest } from './connection-peer.js';
import { appRequestHeaders, relayResponseHeaders } from './forward-headers.js';
import { writeGrpcError, writeGrpcUnimplemented } from './grpc-trailers-only.js';
import { policyPathOf, verifyHttpRequest, type HttpVerifyOptions } from './verify-http-request.js';

/** Any response object the inbound listener hands out. */
export type AnyResponse = ServerResponse | Http2ServerResponse;

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

/** Options of {@link createInboundProxy}. */
export interface InboundProxyOptions extends HttpVerifyOptions {
  /** The app behind the sidecar, e.g. `http://127.0.0.1:8080`. */
  readonly appUrl: string;
  /** Keep `Authorization` for the app. Default false. */
  readonly keepAuthorization?: boolean;
  /** Identity header prefix. Default `x-certbound-`. */
  readonly identityHeaderPrefix?: string;
  /** Largest request header block in bytes (HTTP/2 is checked here). Default 16 KiB. */
  readonly maxHeaderBytes?: number;
  /** The app must answer headers (and each body chunk) within this time. Default 30 s. */
  readonly appTimeoutMs?: number;
  /** Keep-alive connections to the app (beyond them requests wait for a free one). Default 128. */
  readonly appMaxConnections?: number;
  /**
   * Requests in flight on one client connection (HTTP/2 streams, pipelined HTTP/1.1); the
   * excess gets `503 ERR_OVERLOADED`. Default 100 (the listener advertises it to HTTP/2 peers).
   */
  readonly maxConcurrentStreams?: number;
  /**
   * Requests in flight (HTTP and gRPC) from one client certificate across all its
   * connections; the excess gets `503 ERR_OVERLOADED`, so one peer cannot hold every app
   * connection. 0 = no limit. Default half of {@link InboundProxyOptions.appMaxConnections}.
   */
  readonly maxRequestsPerPeer?: number;
  /** gRPC calls go here once verified; default answers UNIMPLEMENTED. */
  readonly inboundGrpcHandler?: InboundGrpcHandler;
  readonly logger: Logger;
  readonly metrics?: SidecarMetrics;
  /** True while the listener drains: HTTP/1 responses carry `connection: close`. */
  readonly draining?: () => boolean;
}

/** The inbound request handlers, to attach to an HTTPS/HTTP2 server (or test directly). */
export interface InboundProxy {
  /** `request` event handler (HTTP/1.1 and HTTP/2 compatibility API). */
  handleRequest(req: AnyRequest, res: AnyResponse): void;
  /** `upgrade` event handler (HTTP/1.1 WebSocket). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Requests admitted and not yet answered (HTTP and gRPC). */
  inFlight(): number;
  /** Closes the keep-alive pool to the app. */
  close(): Promise<void>;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function appErrorOf(err: unknown): CertboundError {
  const code = (err as { code?: unknown }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new CertboundError('ERR_APP_TIMEOUT', 'The application did not answer in time.');
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code))
    return new CertboundError(
      'ERR_APP_UNREACHABLE',
      `The application could not be reached (${code}).`,
    );
  return new CertboundError('ERR_APP_UNREACHABLE', 'The application request failed.');
}

function headerBytesOf(req: AnyRequest): number {
  let total = 0;
  for (const part of req.rawHeaders) total += part.length + 2;
  return total;
}

function isHttp2(req: AnyRequest): req is Http2ServerRequest {
  return 'stream' in req;
}

function hasBody(req: AnyRequest): boolean {
  if (isHttp2(req)) return !req.stream.endAfterHeaders;
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function hostOf(req: AnyRequest): string | undefined {
  return (req.headers[':authority'] as string | undefined) ?? req.headers.host;
}

/**
 * Creates the inbound verifying reverse proxy: every request is verified (token, binding
 * to this connection's certificate, route policy) before anything reaches the app; on
 * success it is streamed to the app over a keep-alive undici pool.
 */
export function createInboundProxy(options: InboundProxyOptions): InboundProxy {
  const app = new URL(options.appUrl);
  const appTimeout = options.appTimeoutMs ?? 30_000;
  const maxHeaderBytes = options.maxHeaderBytes ?? 16_384;
  const headerOptions = {
    keepAuthorization: options.keepAuthorization ?? false,
    identityHeaderPrefix: options.identityHeaderPrefix ?? 'x-certbound-',
  };
  const appConnections = options.appMaxConnections ?? 128;
  const pool = new Pool(app.origin, {
    connections: appConnections,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    headersTimeout: appTimeout,
    bodyTimeout: appTimeout,
  });
  const logger = options.logger;
  const metrics = options.metrics;
  // Issue 12: one peer may hold at most half the app connections by default, so the others
  // always have the rest; what exceeds its share is refused at once, not queued.
  const limit = new ConcurrencyLimit({
    ...(options.maxConcurrentStreams !== undefined
      ? { maxPerConnection: options.maxConcurrentStreams }
      : {}),
    maxPerPeer: options.maxRequestsPerPeer ?? Math.max(1, Math.floor(appConnections / 2)),
  });
  metrics?.observeInboundInFlight(() => limit.inFlight);
  // The hot path's label sets, bound once (prom-client hashes a label object per call).
  const okRequests = metrics?.inboundRequests.labels({ result: 'ok', code: 'none' });
  const okVerifications = metrics?.verifyDuration.labels({ result: 'ok' });

  function record(
    req: AnyRequest,
    status: number,
    code: string | undefined,
    principal: Principal | undefined,
    started: number,
    peer?: string,
  ): void {
    // An overload refusal is a deliberate refusal of this client's excess, not a failure.
    const result =
      code === undefined ? 'ok' : status >= 500 && code !== 'ERR_OVERLOADED' ? 'error' : 'rejected';
    if (code === undefined) okRequests?.inc();
    else metrics?.inboundRequests.inc({ result, code });
    if (!logger.isLevelEnabled('info')) return;
    // Only the path: a query may carry secrets (e.g. a refused access_token).
    logger.info(
      {
        method: req.method,
        path: policyPathOf(req.url ?? '/'),
        status,
        code,
        clientId: principal?.clientId,
        peer,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      },
      'inbound request',
    );
  }

  function fail(req: AnyRequest, res: AnyResponse, err: unknown, started: number): void {
    if (!isCertboundError(err)) logger.error({ err }, 'inbound request failed unexpectedly');
    const response = writeBearerError(res, err);
    record(req, response.status, response.code, undefined, started);
  }

  async function verify(req: AnyRequest): Promise<Principal> {
    const startedVerify = performance.now();
    try {
      const principal = await verifyHttpRequest(req, options);
      okVerifications?.observe((performance.now() - startedVerify) / 1000);
      return principal;
    } catch (err) {
      metrics?.verifyDuration.observe(
        { result: 'rejected' },
        (performance.now() - startedVerify) / 1000,
      );
      throw err;
    }
  }

  function forward(req: AnyRequest, res: AnyResponse, principal: Principal, started: number): void {
    const headers = appRequestHeaders(
      req.headers,
      principal,
      { remoteAddress: req.socket?.remoteAddress, host: hostOf(req) },
      headerOptions,
    );
    delete headers['expect'];
    // An EventEmitter signal (undici accepts one) is much cheaper than an AbortController
    // per request; it aborts the app request when the client goes away first. One 'close'
    // listener does all the per-response bookkeeping (abort, release the app's body, log).
    const abort = new EventEmitter();
    let aborted = false;
    let answerBody: Readable | undefined;
    let answerStatus = 0;
    res.once('close', () => {
      // HTTP/2 reports writableFinished on a stream the client reset (or whose session went
      // away) too: only a response we ended is done; anything else aborts the app request.
      if (res.writableEnded && res.writableFinished) {
        if (answerStatus !== 0) record(req, answerStatus, undefined, principal, started);
        return;
      }
      aborted = true;
      abort.emit('abort');
      if (answerBody !== undefined && !answerBody.readableEnded) answerBody.destroy();
    });
    pool
      .request({
        origin: app.origin,
        method: req.method as 'GET',
        path: req.url ?? '/',
        headers: headers as Record<string, string | string[]>,
        body: hasBody(req) ? req : null,
        signal: abort,
        headersTimeout: appTimeout,
        bodyTimeout: appTimeout,
      })
      .then(
        (answer) => {
          if (res.destroyed) {
            answer.body.destroy();
            return;
          }
          const out = relayResponseHeaders(answer.headers);
          if (req.httpVersionMajor === 1 && options.draining?.() === true)
            out['connection'] = 'close';
          (res as ServerResponse).writeHead(answer.statusCode, out);
          answerStatus = answer.statusCode;
          answerBody = answer.body;
          answer.body.on('error', () => res.destroy());
          answer.body.pipe(res as ServerResponse);
        },
        (err: unknown) => {
          if (aborted) return;
          fail(req, res, appErrorOf(err), started);
        },
      );
  }

  function refuseOverloaded(
    req: AnyRequest,
    res: AnyResponse,
    grpc: boolean,
    by: OverloadedBy,
    started: number,
  ): void {
    const err = new CertboundError(
      'ERR_OVERLOADED',
      by === 'peer'
        ? 'Too many requests in flight from this client certificate; retry later.'
        : 'Too many requests in flight on this connection; retry later.',
    );
    // Refused before verification, so no client id: the log names the certificate instead.
    const identity = connectionPeerOf(req);
    const peer = identity?.spiffeId ?? identity?.thumbprint;
    // Read and discard what the client still sends, so the stream can end cleanly.
    req.resume();
    if (grpc) {
      record(req, 200, writeGrpcError(res as Http2ServerResponse, err), undefined, started, peer);
      return;
    }
    // RFC 9110 §10.2.3: tells the client when to retry (a short back-off).
    res.setHeader('retry-after', '1');
    const response = writeBearerError(res, err);
    record(req, response.status, response.code, undefined, started, peer);
  }

  function handleRequest(req: AnyRequest, res: AnyResponse): void {
    const started = performance.now();
    const grpc = isHttp2(req) && (req.headers['content-type'] ?? '').startsWith('application/grpc');
    // HTTP/2 header lists are bounded here (HTTP/1.1's parser enforces maxHeaderSize).
    if (headerBytesOf(req) > maxHeaderBytes) {
      const err = new CertboundError('ERR_HEADERS_TOO_LARGE');
      if (grpc) writeGrpcError(res as Http2ServerResponse, err);
      else fail(req, res, err, started);
      return;
    }
    const overloadedBy = limit.admit(req, res);
    if (overloadedBy !== undefined) {
      refuseOverloaded(req, res, grpc, overloadedBy, started);
      return;
    }
    if (grpc && options.inboundGrpcHandler !== undefined) {
      options.inboundGrpcHandler(req, res as Http2ServerResponse, connectionPeerOf(req));
      return;
    }
    if (grpc) {
      verify(req).then(
        (principal) => {
          writeGrpcUnimplemented(res as Http2ServerResponse);
          record(req, 200, undefined, principal, started);
        },
        (err: unknown) => {
          const code = writeGrpcError(res as Http2ServerResponse, err);
          record(req, 200, code, undefined, started);
        },
      );
      return;
    }
    verify(req).then(
      (principal) => forward(req, res, principal, started),
      (err: unknown) => fail(req, res, err, started),
    );
  }

  function refuseUpgrade(socket: Duplex, err: unknown): string {
    const response = bearerErrorResponseOf(err);
    const lines = [
      `HTTP/1.1 ${response.status} ${response.status === 401 ? 'Unauthorized' : 'Error'}`,
    ];
    for (const [k, v] of Object.entries(response.headers)) lines.push(`${k}: ${v}`);
    lines.push('connection: close', '', response.body);
    socket.end(lines.join('\r\n'));
    return response.code;
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const started = performance.now();
    socket.on('error', () => socket.destroy());
    verify(req).then(
      (principal) => {
        const headers = appRequestHeaders(
          req.headers,
          principal,
          { remoteAddress: req.socket.remoteAddress, host: hostOf(req) },
          { ...headerOptions, upgrade: true },
        );
        const upstream: Socket = netConnect({
          host: app.hostname,
          port: Number(app.port || 80),
        });
        upstream.once('connect', () => {
          const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
          for (const [name, value] of Object.entries(headers)) {
            for (const v of Array.isArray(value) ? value : [value])
              lines.push(`${name}: ${String(v)}`);
          }
          upstream.write(lines.join('\r\n') + '\r\n\r\n');
          if (head.length > 0) upstream.write(head);
          upstream.pipe(socket);
          socket.pipe(upstream);
          record(req, 101, undefined, principal, started);
        });
        upstream.on('error', (err) => {
          if (upstream.bytesRead === 0 && socket.writable) {
            const code = refuseUpgrade(socket, appErrorOf(err));
            record(req, 502, code, principal, started);
          } else socket.destroy();
        });
        socket.once('close', () => upstream.destroy());
      },
      (err: unknown) => {
        const code = refuseUpgrade(socket, err);
        record(req, bearerErrorResponseOf(err).status, code, undefined, started);
      },
    );
  }

  return {
    handleRequest,
    handleUpgrade,
    inFlight: () => limit.inFlight,
    close: () => pool.close(),
  };
}
