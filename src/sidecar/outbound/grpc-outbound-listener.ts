import {
  createServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CertboundError } from '../../errors.js';
import type { X509Source } from '../../identity/x509-source.js';
import type { Logger } from '../../observability/logger.js';
import type { TokenProvider } from '../../token/access-token.js';
import { isLoopback } from '../../loopback.js';
import { listen } from '../listen.js';
import {
  createGrpcOutboundForwarder,
  type GrpcOutboundForwarder,
  type GrpcUpstream,
} from './grpc-outbound-forwarder.js';
import { writeGrpcError } from '../../grpc/trailers-only.js';

/** A named gRPC upstream of the outbound listener. */
export interface NamedGrpcUpstream extends GrpcUpstream {
  /** The name the app uses as the call's authority (`grpc.default_authority`). */
  readonly name: string;
}

/** Options of {@link startGrpcOutboundListener}. */
export interface GrpcOutboundListenerOptions {
  readonly source: X509Source;
  readonly tokens: TokenProvider;
  readonly upstreams: readonly NamedGrpcUpstream[];
  /** Loopback address to listen on (the app's side of the pod). */
  readonly host: string;
  /** Port; 0 = ephemeral. */
  readonly port: number;
  /** Allow a non-loopback `host` (anyone who reaches it acts with our tokens). Default false. */
  readonly allowNonLoopback?: boolean;
  readonly logger?: Logger;
  /** Called once per call with the upstream name (or `unknown`) and the stable code, if any. */
  readonly onCall?: (upstream: string, code: string | undefined) => void;
}

/** The running outbound gRPC listener. */
export interface GrpcOutboundListener {
  readonly host: string;
  readonly port: number;
  /** Stops accepting, lets calls in flight finish for up to `graceMs`, closes upstream sessions. */
  drain(graceMs: number): Promise<void>;
}

function authorityHostOf(req: Http2ServerRequest): string {
  const authority = req.headers[':authority'] ?? '';
  // `name:port` or `[v6]:port`: the name is what selects the upstream.
  return authority.startsWith('[')
    ? authority.slice(0, authority.indexOf(']') + 1)
    : (authority.split(':')[0] ?? '');
}

/**
 * The sidecar's outbound listener for gRPC: plaintext HTTP/2 (h2c) on loopback. The app
 * dials it with the upstream's name as the call authority (grpc-js:
 * `'grpc.default_authority': 'payments'`); the call leaves over mTLS with the workload
 * certificate and a token bound to it (`createGrpcOutboundForwarder`). An unknown
 * authority ends with `NOT_FOUND` / `ERR_UPSTREAM_UNKNOWN`.
 *
 * @throws TypeError when `host` is not a loopback address and `allowNonLoopback` is not
 *   set (this listener adds credentials to whatever reaches it).
 */
export async function startGrpcOutboundListener(
  options: GrpcOutboundListenerOptions,
): Promise<GrpcOutboundListener> {
  if (options.allowNonLoopback !== true && !isLoopback(options.host)) {
    throw new TypeError(`the outbound gRPC listener must bind to loopback, not ${options.host}`);
  }
  const forwarders = new Map<string, GrpcOutboundForwarder>();
  for (const upstream of options.upstreams) {
    forwarders.set(
      upstream.name,
      createGrpcOutboundForwarder({ tokens: options.tokens, source: options.source, upstream }),
    );
  }
  const sessions = new Set<Http2Session>();
  const server = createServer((req: Http2ServerRequest, res: Http2ServerResponse) => {
    const name = authorityHostOf(req);
    const forward = forwarders.get(name);
    if (forward === undefined) {
      req.resume();
      writeGrpcError(
        res,
        new CertboundError(
          'ERR_UPSTREAM_UNKNOWN',
          `No gRPC upstream named "${name.slice(0, 64)}".`,
        ),
      );
      options.onCall?.('unknown', 'ERR_UPSTREAM_UNKNOWN');
      return;
    }
    options.onCall?.(name, undefined);
    forward(req, res);
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await listen(server, options.port, options.host, 'outbound gRPC');
  const port = (server.address() as AddressInfo).port;
  options.logger?.info({ host: options.host, port }, 'outbound gRPC listener ready');
  return {
    host: options.host,
    port,
    async drain(graceMs: number): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
      await Promise.all([...forwarders.values()].map((f) => f.close()));
    },
  };
}
