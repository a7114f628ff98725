import { EventEmitter } from 'node:events';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import type { AnyRequest } from '../../http/connection-peer.js';
import type { SidecarMetrics } from '../../observability/metrics.js';
import { injectInboundContext, tracingActive } from '../../observability/tracing.js';
import type { Principal } from '../../verify/principal.js';
import type { RequestTarget } from '../../verify/request-path.js';
import {
  appRequestHeaders,
  relayResponseHeaders,
  type AppHeaderOptions,
} from '../forward-headers.js';
import type { AnyResponse } from './any-response.js';
import { appErrorOf } from './app-error.js';
import type { CallReporter } from './call-reporter.js';
import { sendDeferredContinue } from './expect-continue.js';
import { requestHasBody } from '../../http/request-has-body.js';
import { hostOf } from './request-shape.js';

/** Options of {@link createAppForward}. */
export interface AppForwardOptions {
  /** The app's origin. */
  readonly app: URL;
  /** The app must answer headers (and each body chunk) within this time. */
  readonly appTimeoutMs: number;
  /** Keep-alive connections to the app. */
  readonly appMaxConnections: number;
  /** Compiled once: forward-headers compiles its rules per options object. */
  readonly headerOptions: AppHeaderOptions;
  readonly reporter: CallReporter;
  /** `appDuration` is observed for every answered request. */
  readonly metrics?: SidecarMetrics;
  /** True while the listener drains: HTTP/1 responses carry `connection: close`. */
  readonly draining?: () => boolean;
  /** The DPoP nonce to push on answers to DPoP requests (RFC 9449 §8.2), when nonces are on. */
  readonly dpopNonce?: () => string | undefined;
}

/** Streams verified requests to the app and relays its answers. */
export interface AppForward {
  /** Forwards one verified request; answers and records it (or its failure). */
  forward(
    req: AnyRequest,
    res: AnyResponse,
    principal: Principal,
    started: number,
    target: RequestTarget,
  ): void;
  /** Closes the keep-alive pool to the app. */
  close(): Promise<void>;
}

/**
 * The HTTP path to the app over a keep-alive undici pool: request headers rebuilt from the
 * verified principal, body streamed, the answer relayed; a client that goes away aborts the
 * app request, and app failures become `ERR_APP_TIMEOUT` / `ERR_APP_UNREACHABLE`.
 */
export function createAppForward(options: AppForwardOptions): AppForward {
  const { app, reporter, headerOptions } = options;
  const appTimeout = options.appTimeoutMs;
  const appDuration = options.metrics?.appDuration;
  const pool = new Pool(app.origin, {
    connections: options.appMaxConnections,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    headersTimeout: appTimeout,
    bodyTimeout: appTimeout,
  });

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
      reporter.fail(req, res, err, started, target);
      return;
    }
    delete headers['expect'];
    // W3C Trace Context: the app's span is a child of ours, not of the caller's.
    if (tracingActive()) injectInboundContext(req, headers);
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
        if (answerStatus !== 0) {
          appDuration?.observe((performance.now() - appStarted) / 1000);
          reporter.record(req, answerStatus, undefined, principal, started, target);
        }
        return;
      }
      aborted = true;
      abort.emit('abort');
      if (answerBody !== undefined && !answerBody.readableEnded) answerBody.destroy();
    });
    const appStarted = performance.now();
    pool
      .request({
        origin: app.origin,
        method: req.method as 'GET',
        path: target.path + target.query,
        headers: headers as Record<string, string | string[]>,
        body: requestHasBody(req) ? req : null,
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
          // The id set on `res` for this call stands; the app cannot answer under another.
          delete out['x-fapi-interaction-id'];
          if (req.httpVersionMajor === 1 && options.draining?.() === true)
            out['connection'] = 'close';
          // RFC 9449 §8.2: a fresh nonce before the client's one expires; ours, not the app's.
          if (principal.proof !== undefined && principal.proof !== 'mtls') {
            const nonce = options.dpopNonce?.();
            if (nonce !== undefined) out['dpop-nonce'] = nonce;
          }
          (res as ServerResponse).writeHead(answer.statusCode, out);
          answerStatus = answer.statusCode;
          answerBody = answer.body;
          answer.body.on('error', () => res.destroy());
          answer.body.pipe(res as ServerResponse);
        },
        (err: unknown) => {
          if (aborted) return;
          reporter.fail(req, res, appErrorOf(err), started, target);
        },
      );
  }

  return { forward, close: () => pool.close() };
}
