import { onPeerRefusal } from '../binding/peer-refusal-channel.js';
import type { CertboundConfig } from '../config/schema.js';
import type { X509Source } from '../identity/x509-source.js';
import { protectedResourceMetadataOf } from '../http/protected-resource-metadata.js';
import { createInboundRecorder } from '../observability/inbound-recorder.js';
import type { Logger } from '../observability/logger.js';
import type { SidecarMetrics } from '../observability/metrics.js';
import type { Verifier } from '../verify/create-verifier.js';
import type { ForwardedCertificates } from '../verify/proof-inputs.js';
import { createGrpcForwarder } from './inbound/grpc-forwarder.js';
import { startInboundListener, type InboundListener } from './inbound/inbound-listener.js';
import type { InboundGrpcHandler } from './inbound/grpc-dispatch.js';
import { createInboundProxy } from './inbound/inbound-proxy.js';
import type { Lifecycle } from './lifecycle.js';

/** What {@link startInbound} wires together. */
export interface InboundDeps {
  readonly source: X509Source;
  readonly verifier: Verifier;
  readonly logger: Logger;
  readonly metrics: SidecarMetrics;
  readonly lifecycle: Lifecycle;
  /** Replaces the gRPC forwarder (tests, embedding). */
  readonly inboundGrpcHandler?: InboundGrpcHandler | undefined;
  /** The verifier's forwarded-certificate source (`inbound.forwardedClientCert`): its headers are stripped. */
  readonly forwarded?: ForwardedCertificates | undefined;
  /**
   * The route policies in force, read on every request (a configuration reload replaces
   * them). Default: `inb.policies`.
   */
  readonly live?: { readonly policies: InboundPolicies };
  /** Issuers the verifier trusts: RFC 9728 `authorization_servers`. */
  /** The inbound DPoP verifier's proof algorithms (RFC 9728 metadata); none when DPoP is off. */
  readonly dpopAlgorithms?: readonly string[] | undefined;
  readonly authorizationServers?: readonly string[];
}

/** The issuers `verify` trusts, in configuration order. */
export function issuersOf(v: NonNullable<CertboundConfig['verify']>): string[] {
  if (v.issuers !== undefined) return v.issuers.map((i) => i.issuer);
  return v.issuer === undefined ? [] : Array.isArray(v.issuer) ? v.issuer : [v.issuer];
}

/** The route policies of `inbound` (HTTP prefixes and gRPC methods alike). */
export type InboundPolicies = NonNullable<CertboundConfig['inbound']>['policies'];

/**
 * The inbound side of the sidecar: one recorder for HTTP and gRPC, the gRPC forwarder
 * (when `app.grpcUrl` is set), the verifying proxy and the mTLS listener. Everything it
 * opens is owned by `deps.lifecycle`.
 */
export async function startInbound(
  inb: NonNullable<CertboundConfig['inbound']>,
  deps: InboundDeps,
): Promise<InboundListener> {
  const { lifecycle, metrics, verifier } = deps;
  const live = deps.live ?? { policies: inb.policies };
  const logger = deps.logger.child({ component: 'inbound' });
  // One metrics + access-log path for every inbound call, HTTP and gRPC alike.
  const recorder = createInboundRecorder({ logger, metrics });
  // One line per refused client certificate (once per connection): names the reason.
  lifecycle.own(
    onPeerRefusal((r) => logger.warn({ ...r }, 'client certificate refused')),
    (off) => off(),
  );
  // Headers of certificates forwarded by trusted hops never reach the app, whoever sent them.
  const forwarded = deps.forwarded;
  const stripHeaders =
    forwarded !== undefined ? [...inb.stripHeaders, ...forwarded.headerNames] : inb.stripHeaders;
  const grpcHandler =
    deps.inboundGrpcHandler ??
    (inb.app.grpcUrl !== undefined
      ? lifecycle.own(
          createGrpcForwarder({
            verifier,
            appUrl: inb.app.grpcUrl,
            get policies() {
              return live.policies;
            },
            identityHeaderPrefix: inb.identityHeaderPrefix,
            keepAuthorization: inb.keepAuthorization,
            stripHeaders,
            recorder,
            logger,
          }),
          (fwd) => fwd.close(),
        )
      : undefined);
  // RFC 9728: published when the public origin (the resource identifier) is known. DPoP is
  // required when every route requires it (a route without a policy is `mtls`).
  const dpopAlgorithms = deps.dpopAlgorithms ?? [];
  const requiresDpop = (p: { proof?: string | undefined }): boolean =>
    p.proof === 'dpop' || p.proof === 'both';
  const metadata =
    inb.publicOrigin !== undefined
      ? protectedResourceMetadataOf({
          resource: inb.publicOrigin,
          authorizationServers: deps.authorizationServers ?? [],
          dpopBoundAccessTokensRequired:
            dpopAlgorithms.length > 0 &&
            inb.policies.length > 0 &&
            inb.policies.some((p) => p.prefix === '/') &&
            inb.policies.every(requiresDpop),
          dpopSigningAlgValuesSupported: dpopAlgorithms,
        })
      : undefined;
  const listenerRef: { current?: InboundListener } = {};
  const proxy = lifecycle.own(
    createInboundProxy({
      verifier,
      get policies() {
        return live.policies;
      },
      appUrl: inb.app.url,
      keepAuthorization: inb.keepAuthorization,
      identityHeaderPrefix: inb.identityHeaderPrefix,
      stripHeaders,
      maxHeaderBytes: inb.limits.maxHeaderBytes,
      appTimeoutMs: inb.limits.appTimeout,
      appMaxConnections: inb.app.maxConnections,
      maxConcurrentStreams: inb.limits.maxConcurrentStreams,
      ...(inb.limits.maxRequestsPerPeer !== undefined
        ? { maxRequestsPerPeer: inb.limits.maxRequestsPerPeer }
        : {}),
      ...(grpcHandler !== undefined ? { inboundGrpcHandler: grpcHandler } : {}),
      logger,
      metrics,
      recorder,
      draining: () => listenerRef.current?.draining ?? false,
      ...(metadata !== undefined ? { protectedResourceMetadata: metadata } : {}),
    }),
    (p) => p.close(),
  );
  const listener = await startInboundListener({
    source: deps.source,
    proxy,
    host: inb.host,
    port: inb.port,
    limits: {
      maxHeaderBytes: inb.limits.maxHeaderBytes,
      requestTimeoutMs: inb.limits.requestTimeout,
      headersTimeoutMs: inb.limits.headersTimeout,
      keepAliveTimeoutMs: inb.limits.keepAliveTimeout,
      maxConnections: inb.limits.maxConnections,
      maxConcurrentStreams: inb.limits.maxConcurrentStreams,
    },
    tls: inb.tls,
    logger,
    metrics,
  });
  listenerRef.current = listener;
  return lifecycle.own(listener, (l) => l.drain(0));
}
