import { connect, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { refusalOfConnection } from '../../binding/connection-peer-identity.js';
import type { PeerIdentity } from '../../binding/peer-identity.js';
import { CertboundError, ERROR_TABLE } from '../../errors.js';
import type { InboundRecorder } from '../../observability/inbound-recorder.js';
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
  const drop = (name: string): boolean =>
    isIdentityKey(name, prefix) || (name === 'authorization' && options.keepAuthorization !== true);

  const forward = (
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    peer: PeerIdentity | null | undefined,
  ): void => {
    const path = req.headers[':path'] ?? '';
    const stream = res.stream;
    const startedAt = performance.now();
    const recorder = options.recorder;
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
      });
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
        let session;
        try {
          session = await pool.session();
        } catch (err) {
          throw new CertboundError('ERR_APP_UNREACHABLE', undefined, { cause: err });
        }
        if (stream.destroyed) return;
        relayGrpcStream(
          req,
          res,
          session,
          forwardHeaders(req.headers, appUrl, drop, identityEntriesOf(principal, prefix)),
          'ERR_APP_UNREACHABLE',
          record,
        );
      } catch (err) {
        if (err instanceof CertboundError) options.onReject?.(err, path);
        // Drain what the client sends so the stream can close cleanly.
        req.resume();
        const code = writeGrpcError(stream, err);
        record(ERROR_TABLE[code].grpc, code);
      }
    })();
  };
  return Object.assign(forward, { close: () => pool.close() });
}
