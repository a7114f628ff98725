import { X509Certificate } from 'node:crypto';
import { endOutboundSpan, startOutboundSpan, tracingActive } from '../../observability/tracing.js';
import { connect, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { verifiedPeerDerOf } from '../../binding/peer-certificate.js';
import { spiffeIdOf } from '../../binding/peer-identity.js';
import { CertboundError, isCertboundError } from '../../errors.js';
import type { X509Source } from '../../identity/x509-source.js';
import type { TokenProvider, TokenRequest } from '../../token/access-token.js';
import { ConnectionsPerIdentity } from '../../tls/connections-per-identity.js';
import { tlsOptionsOf } from '../../tls/follow-secure-context.js';
import { Http2SessionPool } from '../../tls/http2-session-pool.js';
import { forwardHeaders, relayGrpcStream } from '../relay-grpc-stream.js';
import { writeGrpcError } from '../../grpc/trailers-only.js';
import { adoptInteractionId } from '../../http/adopt-interaction-id.js';
import { INTERACTION_ID_HEADER } from '../../observability/interaction-id.js';

/** One gRPC upstream reached through the outbound listener. */
export interface GrpcUpstream {
  /** `https://host:port` of the upstream (its sidecar or a gRPC server with mTLS). */
  url: string | URL;
  /** `audience` of the token request. */
  audience?: string;
  /** RFC 8707 `resource` of the token request. */
  resource?: string;
  /** Scopes of the token request. */
  scope?: string | readonly string[];
  /** SPIFFE ID the upstream certificate must carry. Default: any cert trusted by the bundle. */
  spiffeId?: string;
}

/** Options of {@link createGrpcOutboundForwarder}. */
export interface GrpcOutboundForwarderOptions {
  /** Hands out tokens bound to the certificate of `source`. */
  tokens: TokenProvider;
  upstream: GrpcUpstream;
  /** The workload identity presented to the upstream; rotations open a new session. */
  source: X509Source;
}

/** A node:http2 request handler for outbound gRPC, plus `close()`. */
export interface GrpcOutboundForwarder {
  (req: Http2ServerRequest, res: Http2ServerResponse): void;
  /** Closes the upstream sessions and stops following the source. */
  close(): Promise<void>;
}

/**
 * The sidecar's outbound gRPC path: the local app speaks plaintext gRPC to the sidecar,
 * which attaches `authorization: Bearer <bound token>` (replacing any the app sent) and
 * relays the call to the upstream over mTLS with the current workload certificate. A
 * rotation of `source` moves new calls to a new session (the token cache follows the new
 * thumbprint). No token → trailers-only `UNAVAILABLE` with `ERR_AS_*`.
 */
export function createGrpcOutboundForwarder(
  options: GrpcOutboundForwarderOptions,
): GrpcOutboundForwarder {
  const { tokens, source, upstream } = options;
  const url = new URL(upstream.url);
  if (url.protocol !== 'https:') throw new TypeError('upstream.url must be https://');
  const request: TokenRequest = {
    ...(upstream.audience !== undefined ? { audience: upstream.audience } : {}),
    ...(upstream.resource !== undefined ? { resource: upstream.resource } : {}),
    ...(upstream.scope !== undefined ? { scope: upstream.scope } : {}),
  };
  const checkUpstream = (socket: TLSSocket | Socket): void => {
    if (upstream.spiffeId === undefined) return;
    // Once per session; DER, not getPeerX509Certificate() (leaks on Node 20).
    const der = verifiedPeerDerOf(socket as TLSSocket);
    if (der === undefined || spiffeIdOf(new X509Certificate(der)) !== upstream.spiffeId) {
      throw new CertboundError('ERR_UPSTREAM_IDENTITY');
    }
  };
  // One session pool per identity: a session keeps the certificate it was opened with, so a
  // rotation opens a new one (in-flight calls finish on the old) and tokens follow the pool.
  const sessions = new ConnectionsPerIdentity<Http2SessionPool>({
    build: (identity) =>
      new Http2SessionPool(() => {
        const session = connect(url, { ...tlsOptionsOf(identity), ALPNProtocols: ['h2'] });
        session.unref();
        return session;
      }, checkUpstream),
    retire: (pool) => pool.close(),
  }).follow(source);

  const forward = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const stream = res.stream;
    // One span per outbound call, child of the app's traceparent; the upstream gets ours.
    const traced = tracingActive() ? startOutboundSpan(req.headers, url.host, 'POST') : undefined;
    // FAPI 2.0 Implementation Advice §2.2.1: propagated upstream (or minted), echoed back.
    const echoed = { [INTERACTION_ID_HEADER]: adoptInteractionId(req, undefined, undefined) };
    void (async () => {
      try {
        const identity = sessions.identity;
        let session;
        try {
          session = await sessions.current().session();
        } catch (err) {
          throw isCertboundError(err)
            ? err
            : new CertboundError('ERR_UPSTREAM_UNREACHABLE', undefined, { cause: err });
        }
        // RFC 8705 §3: the token must be bound to the certificate this session presents,
        // even when the source rotated while the session was being opened.
        const thumbprint = identity?.thumbprint;
        let token;
        try {
          token = await tokens.get(request, thumbprint !== undefined ? { thumbprint } : {});
        } catch (err) {
          throw isCertboundError(err) && err.code.startsWith('ERR_AS_')
            ? err
            : new CertboundError('ERR_AS_UNAVAILABLE', undefined, { cause: err });
        }
        if (stream.destroyed) return;
        const headers = forwardHeaders(req.headers, url, (name) => name === 'authorization', [
          ['authorization', `Bearer ${token.accessToken}`],
        ]);
        traced?.inject(headers);
        relayGrpcStream(
          req,
          res,
          session,
          headers,
          'ERR_UPSTREAM_UNREACHABLE',
          traced !== undefined
            ? (grpcStatus, code) => {
                traced.span.setAttribute('rpc.grpc.status_code', grpcStatus ?? -1);
                endOutboundSpan(traced.span, 200, code);
              }
            : undefined,
          echoed,
        );
      } catch (err) {
        req.resume();
        const code = writeGrpcError(stream, err, echoed);
        if (traced !== undefined) endOutboundSpan(traced.span, 200, code);
      }
    })();
  };
  return Object.assign(forward, {
    close: () => sessions.close(),
  });
}
