import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import { Pool } from 'undici';
import { CertboundError, isCertboundError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import {
  createInboundRecorder,
  type InboundRecorder,
} from '../../observability/inbound-recorder.js';
import type { SidecarMetrics } from '../../observability/metrics.js';
import type { Principal } from '../../verify/principal.js';
import { bearerErrorResponseOf, writeBearerError } from '../../http/bearer-error-response.js';
import { ConcurrencyLimit, type OverloadedBy } from './concurrency-limit.js';
import type { PeerIdentity } from '../../binding/peer-identity.js';
import { connectionPeerOf, type AnyRequest } from '../../http/connection-peer.js';
import { compilePolicies } from '../../verify/policy.js';
import type { RequestTarget } from '../../verify/request-path.js';
import { sendDeferredContinue } from './expect-continue.js';
import {
  appRequestHeaders,
  relayResponseHeaders,
  type AppHeaderOptions,
} from '../forward-headers.js';
import { writeGrpcError, writeGrpcUnimplemented } from '../../grpc/trailers-only.js';
import { canResumeHttp1, http1HeadOf, relayHttp1Response, resumeHttp1 } from './resume-http1.js';
import {
  httpRequestTargetOf,
  verifyHttpRequest,
  type HttpVerifyOptions,
} from '../../http/verify-http-request.js';
import { requestUpgrade, upgradeRefusalOf, type UpgradeOutcome } from './websocket-upgrade.js';

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
  /**
   * More request headers never passed to the app (lower-case names, `_` read as `-`, a
   * trailing `*` matches a prefix), on top of `CERT_FORWARDING_HEADERS`.
   */
  readonly stripHeaders?: readonly string[];
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
  /** Counts and access-logs every call. Default: one built from `logger` and `metrics`. */
  readonly recorder?: InboundRecorder;
  /** True while the listener drains: HTTP/1 responses carry `connection: close`. */
  readonly draining?: () => boolean;
}

/** The inbound request handlers, to attach to an HTTPS/HTTP2 server (or test directly). */
export interface InboundProxy {
  /** `request` event handler (HTTP/1.1 and HTTP/2 compatibility API). */
  handleRequest(req: AnyRequest, res: AnyResponse): void;
  /**
   * `upgrade` event handler (HTTP/1.1 WebSocket); also takes HTTP/1.1 `connect` events,
   * which it refuses with a code.
   */
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

function isGrpc(req: AnyRequest): boolean {
  return isHttp2(req) && (req.headers['content-type'] ?? '').startsWith('application/grpc');
}

function isHttp2(req: AnyRequest): req is Http2ServerRequest {
  return 'stream' in req;
}

function hasBody(req: AnyRequest): boolean {
  if (isHttp2(req)) return !req.stream.endAfterHeaders;
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function hostOf(req: AnyRequest, target: RequestTarget): string | undefined {
  // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
  return target.authority ?? (req.headers[':authority'] as string | undefined) ?? req.headers.host;
}

/** The head of the app's 101 answer, relayed as the app sent it (names as they came). */
function switchedHeadOf(response: IncomingMessage): string {
  const headers: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
    const name = response.rawHeaders[i]!;
    const prior = headers[name];
    const value = response.rawHeaders[i + 1]!;
    headers[name] =
      prior === undefined
        ? value
        : Array.isArray(prior)
          ? [...prior, value]
          : [String(prior), value];
  }
  return http1HeadOf('HTTP/1.1 101 Switching Protocols', headers);
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
  // Built once: forward-headers compiles its rules per options object.
  const headerOptions: AppHeaderOptions = {
    keepAuthorization: options.keepAuthorization ?? false,
    identityHeaderPrefix: options.identityHeaderPrefix ?? 'x-certbound-',
    ...(options.stripHeaders !== undefined ? { stripHeaders: options.stripHeaders } : {}),
  };
  const upgradeHeaderOptions: AppHeaderOptions = { ...headerOptions, upgrade: true };
  // Bad policy prefixes are a TypeError now, not a 500 on the first request.
  if (options.policies !== undefined) compilePolicies(options.policies);
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
  const okVerifications = metrics?.verifyDuration.labels({ result: 'ok' });

  // One metrics + access-log path for HTTP and gRPC alike (the sidecar passes its recorder).
  const recorder = options.recorder ?? createInboundRecorder({ logger, metrics });

  function record(
    req: AnyRequest,
    status: number,
    code: ErrorCode | undefined,
    principal: Principal | undefined,
    started: number,
    target: RequestTarget | undefined,
  ): void {
    recorder.record({
      transport: isGrpc(req) ? 'grpc' : 'http',
      method: req.method ?? 'GET',
      // Only the normalised path (what the policy judged and the app got): a query may
      // carry secrets (e.g. a refused access_token); a refused target is not logged.
      path: target?.path,
      status,
      code,
      principal,
      peer: principal === undefined ? connectionPeerOf(req) : undefined,
      startedAt: started,
      traceparent: req.headers['traceparent'] as string | undefined,
    });
  }

  function fail(
    req: AnyRequest,
    res: AnyResponse,
    err: unknown,
    started: number,
    target: RequestTarget | undefined,
  ): void {
    if (!isCertboundError(err)) logger.error({ err }, 'inbound request failed unexpectedly');
    const response = writeBearerError(res, err);
    record(req, response.status, response.code, undefined, started, target);
  }

  async function verify(req: AnyRequest, target: RequestTarget): Promise<Principal> {
    const startedVerify = performance.now();
    try {
      const principal = await verifyHttpRequest(req, options, target);
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

  function forward(
    req: AnyRequest,
    res: AnyResponse,
    principal: Principal,
    started: number,
    target: RequestTarget,
  ): void {
    let headers: OutgoingHttpHeaders;
    try {
      headers = appRequestHeaders(
        req.headers,
        principal,
        { remoteAddress: req.socket?.remoteAddress, host: hostOf(req, target) },
        headerOptions,
      );
    } catch (err) {
      fail(req, res, err, started, target);
      return;
    }
    delete headers['expect'];
    // Verified: now the client may send its body (RFC 9110 §10.1.1).
    sendDeferredContinue(req, res);
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
        if (answerStatus !== 0) record(req, answerStatus, undefined, principal, started, target);
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
        path: target.path + target.query,
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
          fail(req, res, appErrorOf(err), started, target);
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
    // Refused before verification, so no client id: the recorder names the certificate.
    // Read and discard what the client still sends, so the stream can end cleanly.
    req.resume();
    if (grpc) {
      record(
        req,
        200,
        writeGrpcError(res as Http2ServerResponse, err),
        undefined,
        started,
        undefined,
      );
      return;
    }
    // RFC 9110 §10.2.3: tells the client when to retry (a short back-off).
    res.setHeader('retry-after', '1');
    const response = writeBearerError(res, err);
    record(req, response.status, response.code, undefined, started, undefined);
  }

  function handleRequest(req: AnyRequest, res: AnyResponse): void {
    const started = performance.now();
    if (awaitingRequest > 0 && req.httpVersionMajor === 1) settleResumed(req.socket);
    const grpc = isGrpc(req);
    // HTTP/2 header lists are bounded here (HTTP/1.1's parser enforces maxHeaderSize).
    if (headerBytesOf(req) > maxHeaderBytes) {
      const err = new CertboundError('ERR_HEADERS_TOO_LARGE');
      if (grpc) writeGrpcError(res as Http2ServerResponse, err);
      else fail(req, res, err, started, undefined);
      return;
    }
    const overloadedBy = limit.admit(req, res);
    if (overloadedBy !== undefined) {
      refuseOverloaded(req, res, grpc, overloadedBy, started);
      return;
    }
    if (grpc && options.inboundGrpcHandler !== undefined) {
      options.inboundGrpcHandler(
        req as Http2ServerRequest,
        res as Http2ServerResponse,
        connectionPeerOf(req),
      );
      return;
    }
    // One reading of the target for the policy, the access log and the app.
    let target: RequestTarget;
    try {
      target = httpRequestTargetOf(req);
    } catch (err) {
      if (grpc) {
        const code = writeGrpcError(res as Http2ServerResponse, err);
        record(req, 200, code, undefined, started, undefined);
      } else fail(req, res, err, started, undefined);
      return;
    }
    if (grpc) {
      verify(req, target).then(
        (principal) => {
          writeGrpcUnimplemented(res as Http2ServerResponse);
          record(req, 200, undefined, principal, started, target);
        },
        (err: unknown) => {
          const code = writeGrpcError(res as Http2ServerResponse, err);
          record(req, 200, code, undefined, started, target);
        },
      );
      return;
    }
    verify(req, target).then(
      (principal) => forward(req, res, principal, started, target),
      (err: unknown) => fail(req, res, err, started, target),
    );
  }

  // Connections handed back to the HTTP parser after a refused upgrade: the next request
  // must start within the listener's headersTimeout, as on any kept-alive connection.
  const resumedDeadlines = new WeakMap<object, NodeJS.Timeout>();
  let awaitingRequest = 0;

  function settleResumed(socket: object): void {
    const timer = resumedDeadlines.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    resumedDeadlines.delete(socket);
    awaitingRequest--;
  }

  function armResumed(socket: Duplex): void {
    const server = (socket as Duplex & { server?: { headersTimeout?: unknown } }).server;
    const limit = server?.headersTimeout;
    const timer = setTimeout(
      () => {
        settleResumed(socket);
        socket.destroy();
      },
      typeof limit === 'number' && limit > 0 ? limit : 60_000,
    );
    timer.unref();
    resumedDeadlines.set(socket, timer);
    awaitingRequest++;
  }

  // Listeners a socket gets once, however many upgrade round trips it makes.
  const watched = new WeakSet<Duplex>();
  function watch(socket: Duplex): void {
    if (watched.has(socket)) return;
    watched.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => settleResumed(socket));
  }

  function refuseUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    err: unknown,
    started: number,
    target: RequestTarget | undefined,
  ): void {
    if (!isCertboundError(err)) logger.error({ err }, 'inbound upgrade failed unexpectedly');
    const response = bearerErrorResponseOf(err);
    if (socket.writable) {
      const head = http1HeadOf(`HTTP/1.1 ${response.status} ${response.code}`, {
        ...response.headers,
        connection: 'close',
      });
      socket.end(head + response.body);
    } else socket.destroy();
    record(req, response.status, response.code, undefined, started, target);
  }

  /** The app switched protocols: only now are the two sockets joined. */
  function join(
    socket: Duplex,
    head: Buffer,
    outcome: Extract<UpgradeOutcome, { switched: true }>,
  ): void {
    const upstream = outcome.socket;
    upstream.on('error', () => socket.destroy());
    socket.once('close', () => upstream.destroy());
    upstream.once('close', () => socket.destroy());
    socket.write(switchedHeadOf(outcome.response));
    if (outcome.head.length > 0) socket.write(outcome.head);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  }

  /** The app answered anything but 101: relay it, then serve the connection as HTTP again. */
  function relay(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    response: IncomingMessage,
    principal: Principal,
    started: number,
    target: RequestTarget,
  ): void {
    const resume = options.draining?.() !== true && canResumeHttp1(socket);
    relayHttp1Response(socket, response, !resume).then(
      () => {
        record(req, response.statusCode ?? 0, undefined, principal, started, target);
        if (!resume || socket.destroyed) return;
        armResumed(socket);
        resumeHttp1(socket, head);
      },
      () => record(req, 502, 'ERR_APP_UNREACHABLE', principal, started, target),
    );
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const started = performance.now();
    watch(socket);
    if (awaitingRequest > 0) settleResumed(socket);
    let target: RequestTarget;
    try {
      target = httpRequestTargetOf(req);
      const refusal = upgradeRefusalOf(req);
      if (refusal !== undefined) throw refusal;
    } catch (err) {
      refuseUpgrade(req, socket, err, started, undefined);
      return;
    }
    verify(req, target).then(
      (principal) => {
        let headers: OutgoingHttpHeaders;
        try {
          headers = appRequestHeaders(
            req.headers,
            principal,
            { remoteAddress: req.socket.remoteAddress, host: hostOf(req, target) },
            upgradeHeaderOptions,
          );
        } catch (err) {
          refuseUpgrade(req, socket, err, started, target);
          return;
        }
        if (socket.destroyed) return;
        // The client is not read from until the app has answered: nothing it sends can
        // reach the app before the app agreed to switch protocols.
        const pending = requestUpgrade({
          app,
          path: target.path + target.query,
          headers,
          timeoutMs: appTimeout,
          maxHeaderBytes,
        });
        const onClose = (): void => pending.abort();
        socket.once('close', onClose);
        pending.outcome.then(
          (outcome) => {
            socket.off('close', onClose);
            if (socket.destroyed) {
              (outcome.switched ? outcome.socket : outcome.response).destroy();
              return;
            }
            if (outcome.switched) {
              join(socket, head, outcome);
              record(req, 101, undefined, principal, started, target);
            } else relay(req, socket, head, outcome.response, principal, started, target);
          },
          (err: unknown) => {
            socket.off('close', onClose);
            if (socket.destroyed) return;
            refuseUpgrade(
              req,
              socket,
              isCertboundError(err) ? err : appErrorOf(err),
              started,
              target,
            );
          },
        );
      },
      (err: unknown) => refuseUpgrade(req, socket, err, started, target),
    );
  }

  return {
    handleRequest,
    handleUpgrade,
    inFlight: () => limit.inFlight,
    close: () => pool.close(),
  };
}
