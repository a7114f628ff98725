import { createSecureServer, type Http2SecureServer, type Http2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import {
  followSecureContext,
  tlsOptionsOf,
  type TlsContextSettings,
} from '../../tls/follow-secure-context.js';
import type { X509Source } from '../../identity/x509-source.js';
import type { Logger } from '../../observability/logger.js';
import type { SidecarMetrics } from '../../observability/metrics.js';
import { DEFAULT_MAX_CONCURRENT_STREAMS } from './concurrency-limit.js';
import type { AnyRequest } from '../../http/connection-peer.js';
import { deferContinue } from './expect-continue.js';
import { answerClientError } from './client-error-answer.js';
import { armBodyDeadline, HeaderDeadlines } from './http1-deadlines.js';
import { IdleDrain } from './idle-drain.js';
import { OpenResponses } from './open-responses.js';
import type { AnyResponse } from './any-response.js';
import type { InboundProxy } from './inbound-proxy.js';
import { listen } from '../listen.js';
import { RateLimitedLog } from '../../observability/rate-limited-log.js';
import { tlsFailureReasonOf } from '../../observability/tls-failure-reason.js';

/** Limits of the inbound listener, in bytes and milliseconds. */
export interface InboundLimits {
  /** Largest request header block (HTTP/1.1 parser limit → 431). Default 16 KiB. */
  readonly maxHeaderBytes?: number;
  /** Whole request must arrive within this time (HTTP/1.1). Default 300 s. */
  readonly requestTimeoutMs?: number;
  /** Request headers must arrive within this time (HTTP/1.1). Default 60 s. */
  readonly headersTimeoutMs?: number;
  /** Idle keep-alive connections (and idle HTTP/2 sessions) close after this. Default 5 s. */
  readonly keepAliveTimeoutMs?: number;
  /** Further connections are closed at once. Default 10 000. */
  readonly maxConnections?: number;
  /**
   * SETTINGS_MAX_CONCURRENT_STREAMS advertised to HTTP/2 peers (RFC 9113 §6.5.2); pass the
   * proxy the same value, which enforces it on every connection. Default 100.
   */
  readonly maxConcurrentStreams?: number;
}

/** Options of {@link startInboundListener}. */
export interface InboundListenerOptions {
  /** Our identity: server certificate, key and the bundle that client certificates must chain to. */
  readonly source: X509Source;
  /** The request handlers. */
  readonly proxy: Pick<InboundProxy, 'handleRequest' | 'handleUpgrade'>;
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  readonly limits?: InboundLimits;
  /** TLS version, suites and groups. Default: TLS ≥ 1.2 with the RFC 9325 suites. */
  readonly tls?: TlsContextSettings;
  readonly logger: Logger;
  readonly metrics?: SidecarMetrics;
}

/** A running inbound listener. */
export interface InboundListener {
  readonly server: Http2SecureServer;
  readonly host: string;
  readonly port: number;
  /** True once {@link InboundListener.drain} started. */
  readonly draining: boolean;
  /**
   * Stops accepting, lets in-flight requests finish, then destroys whatever is left after
   * `graceMs`. Resolves when every connection is closed. HTTP/2 sessions get GOAWAY; on
   * HTTP/1.1 every response from now on carries `connection: close` and its connection
   * closes after it, and a connection with no request in flight is half-closed only once it
   * stayed idle (no bytes in) for the keep-alive timeout, so a request the client is sending
   * at the moment the drain starts is answered, not reset.
   */
  drain(graceMs: number): Promise<void>;
}

/**
 * Starts the mTLS inbound listener: TLS ≥ 1.2, client certificates required and verified
 * against the bundle at the handshake (RFC 8705 §3 needs a verified certificate), HTTP/1.1
 * and HTTP/2 by ALPN. The server context follows `source` (rotation without restart).
 */
export async function startInboundListener(
  options: InboundListenerOptions,
): Promise<InboundListener> {
  const limits = options.limits ?? {};
  const maxHeaderBytes = limits.maxHeaderBytes ?? 16_384;
  const keepAlive = limits.keepAliveTimeoutMs ?? 5_000;
  const headersTimeout = limits.headersTimeoutMs ?? 60_000;
  const requestTimeout = limits.requestTimeoutMs ?? 300_000;
  const logger = options.logger;
  const server = createSecureServer({
    ...tlsOptionsOf(options.source.current(), options.tls),
    allowHTTP1: true,
    requestCert: true,
    rejectUnauthorized: true,
    maxSessionMemory: 20,
  });
  // HTTP/1.1 limits: the http2 server hands HTTP/1.1 connections to node:http's parser,
  // which reads these properties.
  const http1 = server as unknown as Record<string, unknown>;
  http1['maxHeaderSize'] = maxHeaderBytes;
  http1['requestTimeout'] = requestTimeout;
  http1['headersTimeout'] = headersTimeout;
  http1['keepAliveTimeout'] = keepAlive;
  server.maxConnections = limits.maxConnections ?? 10_000;
  // A well-behaved HTTP/2 peer then opens no more streams than the proxy admits per connection.
  server.updateSettings({
    maxConcurrentStreams: limits.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
  });
  const unfollow = followSecureContext(server, options.source, {
    ...options.tls,
    onError: (err) => logger.error({ err }, 'inbound TLS context update failed'),
  });

  let draining = false;
  const sockets = new Set<TLSSocket>();
  const sessions = new Set<Http2Session>();
  const openResponses = new OpenResponses();
  const headerDeadlines = new HeaderDeadlines(server, headersTimeout);
  const idleDrain = new IdleDrain(keepAlive, (socket) => openResponses.busy(socket));

  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    options.metrics?.activeConnections.inc({ listener: 'inbound' });
    if (socket.alpnProtocol !== 'h2') {
      headerDeadlines.arm(socket);
      if (draining) idleDrain.closeWhenIdle(socket);
    }
    socket.once('close', () => {
      headerDeadlines.clear(socket);
      idleDrain.cancel(socket);
      sockets.delete(socket);
      options.metrics?.activeConnections.dec({ listener: 'inbound' });
    });
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    // Idle HTTP/2 session (no frames for the keep-alive time): GOAWAY, streams finish.
    session.setTimeout(keepAlive, () => session.close());
    session.once('close', () => sessions.delete(session));
    if (draining) session.close();
  });
  // Issue 18: refusals are counted by a bounded reason and logged at info, rate-limited
  // per reason, so a scan or a misconfigured client is visible without flooding the log.
  const refusals = new RateLimitedLog(logger);
  // A full listener is an operator problem (capacity or a flood): warn.
  const drops = new RateLimitedLog(logger, { level: 'warn' });
  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    const reason = tlsFailureReasonOf(err.code, socket.authorizationError);
    options.metrics?.tlsHandshakeFailures.inc({ listener: 'inbound', reason });
    refusals.log(
      reason,
      {
        reason,
        code: err.code,
        authorizationError: socket.authorizationError,
        remoteAddress: socket.remoteAddress,
      },
      'TLS handshake refused',
    );
  });
  // net.Server closes connections beyond maxConnections before any handler sees them.
  server.on('drop', (data?: { remoteAddress?: string }) => {
    options.metrics?.connectionsRefused.inc({ listener: 'inbound', reason: 'max_connections' });
    drops.log(
      'max_connections',
      {
        reason: 'max_connections',
        maxConnections: server.maxConnections,
        remoteAddress: data?.remoteAddress,
      },
      'connection refused: maxConnections reached',
    );
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) =>
    answerClientError(err, socket, options.metrics),
  );

  server.on('request', (req: AnyRequest, res: AnyResponse) => {
    if (req.httpVersionMajor === 1) {
      const conn = req.socket as object;
      headerDeadlines.clear(conn);
      idleDrain.cancel(conn);
      // Draining: this response says `connection: close` and node closes after it.
      if (draining) (res as ServerResponse).shouldKeepAlive = false;
      armBodyDeadline(req, res, requestTimeout, options.metrics);
      openResponses.track(req, res, (socket) => {
        headerDeadlines.arm(socket);
        // A response that went out before the drain kept the connection alive: the client
        // may reuse it, so it is closed like any idle one.
        if (draining) idleDrain.closeWhenIdle(socket);
      });
    }
    options.proxy.handleRequest(req, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    headerDeadlines.clear(socket);
    options.proxy.handleUpgrade(req, socket, head);
  });

  // Expect: 100-continue is answered by the proxy once the request is verified, never by
  // node before (RFC 9110 §10.1.1); the request then takes the ordinary 'request' path.
  server.on('checkContinue', (req: AnyRequest, res: AnyResponse) => {
    deferContinue(req);
    server.emit('request', req, res);
  });
  // CONNECT gets a refusal with a code instead of a dropped connection: HTTP/1.1 hands
  // over the socket, HTTP/2 a request/response pair.
  server.on('connect', (req: AnyRequest, second: Duplex | AnyResponse, head?: Buffer) => {
    if (req.httpVersionMajor === 1)
      options.proxy.handleUpgrade(
        req as IncomingMessage,
        second as Duplex,
        head ?? Buffer.alloc(0),
      );
    else server.emit('request', req, second);
  });

  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port, host, 'inbound');
  server.on('error', (err) => logger.error({ err }, 'inbound listener error'));
  const port = (server.address() as AddressInfo).port;

  return {
    server,
    host,
    port,
    get draining() {
      return draining;
    },
    async drain(graceMs: number): Promise<void> {
      draining = true;
      unfollow();
      // With allowHTTP1, node's close() first destroys idle HTTP/1.1 connections
      // (closeIdleConnections): the very race IdleDrain avoids; it closes them instead.
      http1['closeIdleConnections'] = () => undefined;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      for (const socket of sockets) {
        if (!openResponses.busy(socket) && socket.alpnProtocol !== 'h2')
          idleDrain.closeWhenIdle(socket);
      }
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), graceMs);
        timer.unref();
      });
      const outcome = await Promise.race([closed.then(() => 'closed' as const), expired]);
      clearTimeout(timer);
      if (outcome === 'expired') {
        logger.warn({ connections: sockets.size }, 'drain grace expired; closing connections');
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
        await closed;
      }
    },
  };
}
