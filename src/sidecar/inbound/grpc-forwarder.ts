import { connect, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { refusalOfConnection } from '../../binding/connection-peer-identity.js';
import type { PeerIdentity } from '../../binding/peer-identity.js';
import { CertboundError, ERROR_TABLE } from '../../errors.js';
import { adoptInteractionId } from '../../http/adopt-interaction-id.js';
import type { InboundRecorder } from '../../observability/inbound-recorder.js';
import {
  endVerifySpan,
  injectInboundContext,
  startVerifySpan,
  tracingActive,
} from '../../observability/tracing.js';
import { INTERACTION_ID_HEADER } from '../../observability/interaction-id.js';
import type { Logger } from '../../observability/logger.js';
import { authorizeRequest } from '../../verify/authorize-request.js';
import { authorizationValuesOf, headerValuesOf } from '../../verify/bearer-token.js';
import type { Verifier } from '../../verify/create-verifier.js';
import type { Principal } from '../../verify/principal.js';
import {
  DEFAULT_IDENTITY_PREFIX,
  identityEntriesOf,
  isIdentityKey,
} from '../../grpc/identity-metadata.js';
import { Http2SessionPool } from '../../tls/http2-session-pool.js';
import { strippedHeaderTest } from '../forward-headers.js';
import { forwardHeaders, relayGrpcStream } from '../relay-grpc-stream.js';
import type { GrpcMethodPolicy } from '../../grpc/server-interceptor.js';
import { writeGrpcError } from '../../grpc/trailers-only.js';

/** Options of {@link createGrpcForwarder}. */
export interface GrpcForwarderOptions {
  /** Verifies token + binding, as the server interceptor does. */
  verifier: Verifier;
  /** The gRPC app, plaintext HTTP/2 on loopback: `http://127.0.0.1:PORT`. */
  appUrl: string | URL;
  /** Per-method policies (`/package.Service/Method` prefixes). */
  policies?: readonly GrpcMethodPolicy[];
  /** Prefix of the verified-identity headers set for the app. Default `x-certbound-`. */
  identityHeaderPrefix?: string;
  /** Pass the caller's `authorization` on to the app. Default false: the app gets identity headers. */
  keepAuthorization?: boolean;
  /** Called for every refused call (logs, metrics); must not throw. */
  onReject?: (error: CertboundError, method: string) => void;
  /** Counts and access-logs every call, refused or relayed (the sidecar's recorder). */
  recorder?: InboundRecorder;
  /**
   * More request headers the app must never see (as `inbound.stripHeaders`), on top of the
   * identity prefix and the client-certificate forwarding headers, which are always removed.
   */
  stripHeaders?: readonly string[];
  /** Logs a replaced malformed `x-fapi-interaction-id`. Default: none. */
  logger?: Logger;
}

/** A node:http2 request handler for inbound gRPC, plus `close()` for its app connection. */
export interface GrpcForwarder {
  (req: Http2ServerRequest, res: Http2ServerResponse, peer: PeerIdentity | null | undefined): void;
  /** Closes the HTTP/2 session to the app. */
  close(): Promise<void>;
}

/**
 * The sidecar's inbound gRPC path: verifies `authorization` and the certificate binding of
 * the connection (`peer`, computed once per TLS connection by the listener) exactly as
 * {@link boundTokenServerInterceptor} does, applies the method policy, replaces any
 * client-sent `x-certbound-*` headers with the verified ones, and relays the call to the app
 * over HTTP/2 with its trailers. Refusals are trailers-only gRPC statuses
 * (`grpc-status: 16` or `7`, `grpc-message: "<ERR_CODE>: …"`), never an HTTP 401.
 */
export function createGrpcForwarder(options: GrpcForwarderOptions): GrpcForwarder {
  const appUrl = new URL(options.appUrl);
  if (appUrl.protocol !== 'http:') throw new TypeError('appUrl must be http:// (h2c on loopback)');
  const prefix = (options.identityHeaderPrefix ?? DEFAULT_IDENTITY_PREFIX).toLowerCase();
  const pool = new Http2SessionPool(() => {
    const session = connect(appUrl);
    session.unref();
    return session;
  });
  // A forwarded certificate (RFC 9440, XFCC, …) is certbound's to read, never the app's.
  const stripped = strippedHeaderTest({
    identityHeaderPrefix: prefix,
    stripHeaders: options.stripHeaders ?? [],
  });
  const drop = (name: string): boolean =>
    isIdentityKey(name, prefix) ||
    stripped(name) ||
    (name === 'authorization' && options.keepAuthorization !== true);

  const forward = (
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    peer: PeerIdentity | null | undefined,
  ): void => {
    const path = req.headers[':path'] ?? '';
    const stream = res.stream;
    const startedAt = performance.now();
    const recorder = options.recorder;
    // FAPI 2.0 Implementation Advice §2.2.1: the app gets it (metadata), every answer carries it.
    const interactionId = adoptInteractionId(req, undefined, options.logger);
    const echoed = { [INTERACTION_ID_HEADER]: interactionId };
    let principal: Principal | undefined;
    const record = (grpcStatus: number | undefined, code: CertboundError['code'] | undefined) =>
      recorder?.record({
        transport: 'grpc',
        method: 'POST',
        path,
        status: 200,
        ...(grpcStatus !== undefined ? { grpcStatus } : {}),
        code,
        principal,
        peer,
        startedAt,
        traceparent: req.headers['traceparent'] as string | undefined,
        request: req,
        interactionId,
      });
    const span = tracingActive() ? startVerifySpan(req) : undefined;
    void (async () => {
      try {
        // A certificate refused as a client leaf (CA, weak key, no clientAuth) has no peer:
        // answer why, as the first response of the connection.
        const peerError =
          peer === null || peer === undefined
            ? ((req.stream.session && refusalOfConnection(req.stream.session)) ?? undefined)
            : undefined;
        principal = await authorizeRequest(
          {
            authorization: authorizationValuesOf(req.rawHeaders),
            peer,
            ...(peerError !== undefined ? { peerError } : {}),
            method: 'POST',
            path,
            header: (name) => headerValuesOf(req.rawHeaders, name),
            remoteAddress: req.socket.remoteAddress,
          },
          options.verifier.pipeline,
          options.policies,
        );
        endVerifySpan(span, undefined);
        let session;
        try {
          session = await pool.session();
        } catch (err) {
          throw new CertboundError('ERR_APP_UNREACHABLE', undefined, { cause: err });
        }
        if (stream.destroyed) return;
        const headers = forwardHeaders(
          req.headers,
          appUrl,
          drop,
          identityEntriesOf(principal, prefix),
        );
        // W3C Trace Context: the app's span is a child of ours.
        if (tracingActive()) injectInboundContext(req, headers);
        relayGrpcStream(req, res, session, headers, 'ERR_APP_UNREACHABLE', record, echoed);
      } catch (err) {
        if (principal === undefined)
          endVerifySpan(span, err instanceof CertboundError ? err.code : 'ERR_INTERNAL');
        if (err instanceof CertboundError) options.onReject?.(err, path);
        // Drain what the client sends so the stream can close cleanly.
        req.resume();
        const code = writeGrpcError(stream, err, echoed);
        record(ERROR_TABLE[code].grpc, code);
      }
    })();
  };
  return Object.assign(forward, { close: () => pool.close() });
}
