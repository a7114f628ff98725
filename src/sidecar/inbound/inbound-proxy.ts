import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import { CertboundError } from '../../errors.js';
import { writeGrpcError } from '../../grpc/trailers-only.js';
import { adoptInteractionId } from '../../http/adopt-interaction-id.js';
import type { BearerErrorOptions } from '../../http/bearer-error-response.js';
import {
  isMetadataRequest,
  metadataAnswerOf,
  resourceMetadataUrlOf,
  type ProtectedResourceMetadata,
} from '../../http/protected-resource-metadata.js';
import { interactionIdHeaderOf } from '../../observability/interaction-id.js';
import type { AnyRequest } from '../../http/connection-peer.js';
import { httpRequestTargetOf, type HttpVerifyOptions } from '../../http/verify-http-request.js';
import {
  createInboundRecorder,
  type InboundRecorder,
} from '../../observability/inbound-recorder.js';
import type { Logger } from '../../observability/logger.js';
import type { SidecarMetrics } from '../../observability/metrics.js';
import { startInboundSpan, tracingActive } from '../../observability/tracing.js';
import { compilePolicies } from '../../verify/policy.js';
import type { RequestTarget } from '../../verify/request-path.js';
import type { AppHeaderOptions } from '../forward-headers.js';
import type { AnyResponse } from './any-response.js';
import { createAppForward } from './app-forward.js';
import { createCallReporter } from './call-reporter.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { createGrpcDispatch, type InboundGrpcHandler } from './grpc-dispatch.js';
import { createMeteredVerify } from './metered-verify.js';
import { refuseOverloaded } from './overload-refusal.js';
import { headerBytesOf, isGrpc } from './request-shape.js';
import { ResumedDeadlines } from './resumed-deadlines.js';
import { createUpgradeHandler } from './upgrade-handler.js';

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
  /**
   * RFC 9728 metadata served without a token at `/.well-known/oauth-protected-resource`;
   * its `resource` also becomes `resource_metadata` in every `Bearer` challenge (§5.1).
   * Default: none (the path is then an ordinary, verified request).
   */
  readonly protectedResourceMetadata?: ProtectedResourceMetadata;
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

/**
 * Creates the inbound verifying reverse proxy: every request is verified (token, binding
 * to this connection's certificate, route policy) before anything reaches the app; on
 * success it is streamed to the app over a keep-alive undici pool.
 */
export function createInboundProxy(options: InboundProxyOptions): InboundProxy {
  const app = new URL(options.appUrl);
  const appTimeoutMs = options.appTimeoutMs ?? 30_000;
  const maxHeaderBytes = options.maxHeaderBytes ?? 16_384;
  // Built once: forward-headers compiles its rules per options object.
  const headerOptions: AppHeaderOptions = {
    keepAuthorization: options.keepAuthorization ?? false,
    identityHeaderPrefix: options.identityHeaderPrefix ?? 'x-certbound-',
    ...(options.stripHeaders !== undefined ? { stripHeaders: options.stripHeaders } : {}),
  };
  // Bad policy prefixes are a TypeError now, not a 500 on the first request.
  if (options.policies !== undefined) compilePolicies(options.policies);
  const appMaxConnections = options.appMaxConnections ?? 128;
  const { logger, metrics } = options;
  // Issue 12: one peer may hold at most half the app connections by default, so the others
  // always have the rest; what exceeds its share is refused at once, not queued.
  const limit = new ConcurrencyLimit({
    ...(options.maxConcurrentStreams !== undefined
      ? { maxPerConnection: options.maxConcurrentStreams }
      : {}),
    maxPerPeer: options.maxRequestsPerPeer ?? Math.max(1, Math.floor(appMaxConnections / 2)),
  });
  metrics?.observeInboundInFlight(() => limit.inFlight);
  const verify = createMeteredVerify(options, metrics);
  const metadata = options.protectedResourceMetadata;
  const bearer: BearerErrorOptions =
    metadata !== undefined ? { resourceMetadata: resourceMetadataUrlOf(metadata.resource) } : {};
  // One metrics + access-log path for HTTP and gRPC alike (the sidecar passes its recorder).
  const reporter = createCallReporter(
    options.recorder ?? createInboundRecorder({ logger, metrics }),
    logger,
    bearer,
  );
  const draining = options.draining !== undefined ? { draining: options.draining } : {};
  const appForward = createAppForward({
    app,
    appTimeoutMs,
    appMaxConnections,
    headerOptions,
    reporter,
    ...(metrics !== undefined ? { metrics } : {}),
    ...draining,
    dpopNonce: () => options.verifier.pipeline.dpop?.nonceForResponse?.(),
  });
  const dispatchGrpc = createGrpcDispatch({
    ...(options.inboundGrpcHandler !== undefined ? { handler: options.inboundGrpcHandler } : {}),
    verify,
    reporter,
  });
  const resumed = new ResumedDeadlines();
  const handleUpgrade = createUpgradeHandler({
    app,
    appTimeoutMs,
    maxHeaderBytes,
    headerOptions: { ...headerOptions, upgrade: true },
    verify,
    reporter,
    logger,
    resumed,
    bearer,
    ...draining,
  });

  function handleRequest(req: AnyRequest, res: AnyResponse): void {
    const started = performance.now();
    if (resumed.waiting > 0 && req.httpVersionMajor === 1) resumed.settle(req.socket);
    const grpc = isGrpc(req);
    // FAPI 2.0 Implementation Advice §2.2.1: every answer from here on carries the id.
    adoptInteractionId(req, res, logger);
    if (tracingActive()) startInboundSpan(req, grpc ? 'grpc' : 'http');
    // HTTP/2 header lists are bounded here (HTTP/1.1's parser enforces maxHeaderSize).
    if (headerBytesOf(req) > maxHeaderBytes) {
      const err = new CertboundError('ERR_HEADERS_TOO_LARGE');
      if (grpc) writeGrpcError(res as Http2ServerResponse, err, interactionIdHeaderOf(req.headers));
      else reporter.fail(req, res, err, started, undefined);
      return;
    }
    const overloadedBy = limit.admit(req, res);
    if (overloadedBy !== undefined) {
      refuseOverloaded(req, res, grpc, overloadedBy, started, reporter);
      return;
    }
    if (grpc) {
      dispatchGrpc(req as Http2ServerRequest, res as Http2ServerResponse, started);
      return;
    }
    // One reading of the target for the policy, the access log and the app.
    let target: RequestTarget;
    try {
      target = httpRequestTargetOf(req);
    } catch (err) {
      reporter.fail(req, res, err, started, undefined);
      return;
    }
    // RFC 9728 §3: the metadata is public, so it is answered before any token check.
    if (metadata !== undefined && isMetadataRequest(req.method, target.path)) {
      const answer = metadataAnswerOf(metadata, req.method);
      req.resume();
      (res as ServerResponse).writeHead(answer.status, answer.headers);
      res.end(answer.body);
      reporter.record(req, answer.status, undefined, undefined, started, target);
      return;
    }
    verify(req, target).then(
      (principal) => appForward.forward(req, res, principal, started, target),
      (err: unknown) => reporter.fail(req, res, err, started, target),
    );
  }

  return {
    handleRequest,
    handleUpgrade,
    inFlight: () => limit.inFlight,
    close: () => appForward.close(),
  };
}
