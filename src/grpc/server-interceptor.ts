import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  Metadata,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import type { PeerIdentity } from '../binding/peer-identity.js';
import { CertboundError } from '../errors.js';
import { authorizeRequest } from '../verify/authorize-request.js';
import type { Verifier } from '../verify/create-verifier.js';
import type { AccessPolicy } from '../verify/policy.js';
import type { Principal } from '../verify/principal.js';
import { grpcStatusOf } from './grpc-status.js';
import { DEFAULT_IDENTITY_PREFIX, identityEntriesOf, isIdentityKey } from './identity-metadata.js';
import { PeerIdentityCache } from './peer-identity-cache.js';
import { sessionOf } from './call-session.js';
import type { InboundRecorder } from '../observability/inbound-recorder.js';
import {
  INTERACTION_ID_HEADER,
  interactionIdOf,
  malformedInteractionIdFields,
} from '../observability/interaction-id.js';
import type { Logger } from '../observability/logger.js';

/** Who may call the gRPC methods under `prefix` (e.g. `/demo.v1.Echo/` or `/demo.v1.Echo/Unary`). */
export interface GrpcMethodPolicy extends AccessPolicy {
  /** Method path prefix; the longest matching prefix wins. */
  readonly prefix: string;
}

/** Options of {@link boundTokenServerInterceptor}. */
export interface BoundTokenServerInterceptorOptions {
  /** Per-method policies (same shape as the HTTP ones). Default: any verified caller. */
  policies?: readonly GrpcMethodPolicy[];
  /** Prefix of the verified-identity metadata set for handlers. Default `x-certbound-`. */
  identityMetadataPrefix?: string;
  /** Called for every refused call (for logs and metrics); must not throw. */
  onReject?: (error: CertboundError, method: string) => void;
  /**
   * Counts and access-logs every call, refused or served, like the sidecar does
   * (`createInboundRecorder({ logger, metrics })`). Default: none.
   */
  recorder?: InboundRecorder;
  /** Logs a malformed `x-fapi-interaction-id` that was replaced. Default: none. */
  logger?: Logger;
}

const principals = new WeakMap<Metadata, Principal>();

/** The IP address of a grpc-js peer string (`ipv4:127.0.0.1:50051`, `ipv6:[::1]:50051`). */
function remoteAddressOf(peer: string): string | undefined {
  const match = /^ipv4:([^:]+):\d+$/.exec(peer) ?? /^ipv6:\[([^\]]+)\]:\d+$/.exec(peer);
  return match?.[1];
}

/**
 * The verified caller of a call that went through {@link boundTokenServerInterceptor}, or
 * undefined when the interceptor is not installed. Pass the handler's `call`.
 */
export function grpcPrincipalOf(call: { readonly metadata: Metadata }): Principal | undefined {
  return principals.get(call.metadata);
}

/**
 * A grpc-js server interceptor that lets a call reach its handler only with a valid access
 * token bound to the TLS client certificate of the connection (RFC 8705 §3.1).
 *
 * Reads `authorization: Bearer …`, takes the verified peer certificate from the call's auth
 * context, verifies token and binding with `verifier`, then applies the method's policy.
 * Refused calls end with `UNAUTHENTICATED` (`PERMISSION_DENIED` for policy) and details
 * `"<ERR_CODE>: <message>"`; the handler never runs. Accepted calls carry the
 * {@link Principal} ({@link grpcPrincipalOf}) and `x-certbound-*` metadata; any metadata
 * in that namespace sent by the client is deleted first. Works for all four call kinds.
 *
 * Requires TLS with client certificates (see `serverCredentialsFrom`): without a verified
 * peer certificate every call is refused with `ERR_PEER_CERT_MISSING`.
 */
export function boundTokenServerInterceptor(
  verifier: Verifier,
  options: BoundTokenServerInterceptorOptions = {},
): ServerInterceptor {
  const prefix = (options.identityMetadataPrefix ?? DEFAULT_IDENTITY_PREFIX).toLowerCase();
  if (prefix.length === 0) throw new TypeError('identityMetadataPrefix must not be empty');
  const policies = options.policies;
  const peers = new PeerIdentityCache();

  function authorize(
    metadata: Metadata,
    path: string,
    peer: PeerIdentity | undefined,
    peerError: CertboundError | undefined,
    peerAddress: () => string,
  ): Promise<Principal> {
    const authorization = metadata
      .get('authorization')
      .filter((v): v is string => typeof v === 'string');
    // gRPC is always POST (gRPC over HTTP/2 §Requests); the method path is the policy path.
    return authorizeRequest(
      {
        authorization,
        peer,
        ...(peerError !== undefined ? { peerError } : {}),
        method: 'POST',
        path,
        header: (name) => metadata.get(name).filter((v): v is string => typeof v === 'string'),
        // Only forwarded certificates read it (an address list of trusted hops): not parsed
        // for every call. A plain value, not a getter: an accessor on this per-call object
        // kept every call's objects alive past young-generation GCs (+40 µs of GC per call).
        ...(verifier.pipeline.forwarded !== undefined
          ? { remoteAddress: remoteAddressOf(peerAddress()) }
          : {}),
      },
      verifier.pipeline,
      policies,
    );
  }

  const recorder = options.recorder;

  return (method, call) => {
    const path = method.path;
    const startedAt = recorder !== undefined ? performance.now() : 0;
    let principalOfCall: Principal | undefined;
    let peer: PeerIdentity | undefined;
    let interactionId: string | undefined;
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        // FAPI 2.0 Implementation Advice §2.2.1: settled before anything can answer the call.
        const sent = metadata
          .get(INTERACTION_ID_HEADER)
          .filter((v): v is string => typeof v === 'string');
        const id = interactionIdOf(sent);
        if (id.received === 'malformed')
          options.logger?.warn(
            malformedInteractionIdFields(sent, id.value),
            'malformed x-fapi-interaction-id replaced with a fresh UUID',
          );
        interactionId = id.value;
        metadata.set(INTERACTION_ID_HEADER, id.value);
        // Read the peer before any await: the connection may be gone afterwards.
        // A certificate refused as a client leaf answers with its own code (not MISSING).
        let peerError: CertboundError | undefined;
        try {
          peer = peerOf(call, peers);
        } catch (err) {
          peer = undefined;
          if (err instanceof CertboundError) peerError = err;
        }
        // The identity entries are built (and their values checked) inside the chain, so a
        // refused claim value ends the call like any other refusal.
        authorize(metadata, path, peer, peerError, () => call.getPeer())
          .then((principal) => ({ principal, entries: identityEntriesOf(principal, prefix) }))
          .then(
            ({ principal, entries }) => {
              for (const key of Object.keys(metadata.getMap())) {
                if (isIdentityKey(key, prefix)) metadata.remove(key);
              }
              // Forwarded-certificate headers are certbound's to read, never the handler's.
              for (const name of verifier.pipeline.forwarded?.headerNames ?? [])
                metadata.remove(name);
              for (const [key, value] of entries) metadata.set(key, value);
              principals.set(metadata, principal);
              principalOfCall = principal;
              next(metadata);
            },
            (err: unknown) => {
              if (err instanceof CertboundError) options.onReject?.(err, path);
              const status = grpcStatusOf(err);
              recorder?.record({
                transport: 'grpc',
                method: 'POST',
                path,
                status: 200,
                grpcStatus: status.code,
                code: err instanceof CertboundError ? err.code : 'ERR_INTERNAL',
                peer,
                startedAt,
                interactionId,
              });
              const trailers = new Metadata();
              trailers.set(INTERACTION_ID_HEADER, id.value);
              // RFC 9449 §8: the nonce a DPoP caller must put in its retry's proof.
              if (status.dpopNonce !== undefined) trailers.set('dpop-nonce', status.dpopNonce);
              intercepting.sendStatus({
                code: status.code,
                details: status.details,
                metadata: trailers,
              });
            },
          );
      })
      .build();
    const responder = new ResponderBuilder()
      .withStart((next) => next(listener))
      // Served calls answer under the same id (response headers).
      .withSendMetadata((metadata, next) => {
        if (interactionId !== undefined) metadata.set(INTERACTION_ID_HEADER, interactionId);
        next(metadata);
      });
    // A served call is recorded with the status its handler ended with.
    if (recorder !== undefined)
      responder.withSendStatus((status, next) => {
        if (principalOfCall !== undefined)
          recorder.record({
            transport: 'grpc',
            method: 'POST',
            path,
            status: 200,
            grpcStatus: status.code,
            code: undefined,
            principal: principalOfCall,
            startedAt,
            interactionId,
          });
        next(status);
      });
    const intercepting = new ServerInterceptingCall(call, responder.build());
    return intercepting;
  };
}

const sessionPeers = new WeakMap<object, PeerIdentity | null>();

/**
 * Peer identity of the call's connection. grpc-js ≥ 1.14.5 only reports a certificate the
 * TLS stack verified. The result is kept per HTTP/2 session: a connection's peer certificate
 * cannot change (RFC 9113 §9.2.1 forbids renegotiation), and `getPeerCertificate()` is the
 * expensive part (≈13 µs, it builds a large object).
 */
function peerOf(
  call: ServerInterceptingCallInterface,
  cache: PeerIdentityCache,
): PeerIdentity | undefined {
  const session = sessionOf(call);
  if (session !== undefined) {
    const known = sessionPeers.get(session);
    if (known !== undefined) return known ?? undefined;
  }
  const cert = call.getAuthContext().sslPeerCertificate;
  const peer =
    cert === undefined || !(cert.raw instanceof Uint8Array) || cert.raw.length === 0
      ? undefined
      : cache.of(cert.raw);
  if (session !== undefined) sessionPeers.set(session, peer ?? null);
  return peer;
}
