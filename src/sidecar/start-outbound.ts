import type { CertboundConfig } from '../config/schema.js';
import type { X509Source } from '../identity/x509-source.js';
import type { Logger } from '../observability/logger.js';
import type { SidecarMetrics } from '../observability/metrics.js';
import type { TokenClient } from '../token/token-client.js';
import { tokenRequestOf } from './config-files.js';
import type { Lifecycle } from './lifecycle.js';
import {
  startGrpcOutboundListener,
  type GrpcOutboundListener,
} from './outbound/grpc-outbound-listener.js';
import { startOutboundListener, type OutboundListener } from './outbound/outbound-proxy.js';

/** What {@link startOutbound} wires together. */
export interface OutboundDeps {
  readonly source: X509Source;
  readonly tokens: TokenClient;
  readonly logger: Logger;
  readonly metrics: SidecarMetrics;
  readonly lifecycle: Lifecycle;
}

/**
 * The outbound side: the loopback HTTP proxy for HTTP upstreams and, with `grpcPort`, the
 * h2c listener for `protocol: grpc` upstreams. Everything it opens is owned by
 * `deps.lifecycle`.
 */
export async function startOutbound(
  out: NonNullable<CertboundConfig['outbound']>,
  deps: OutboundDeps,
): Promise<{ http: OutboundListener; grpc: GrpcOutboundListener | undefined }> {
  const { source, tokens, metrics, lifecycle } = deps;
  const http = lifecycle.own(
    await startOutboundListener({
      source,
      tokens,
      upstreams: out.upstreams.filter((u) => u.protocol !== 'grpc'),
      host: out.host,
      port: out.port,
      allowNonLoopback: out.allowNonLoopback,
      logger: deps.logger.child({ component: 'outbound' }),
      metrics,
    }),
    (l) => l.drain(0),
  );
  if (out.grpcPort === undefined) return { http, grpc: undefined };
  const grpc = lifecycle.own(
    await startGrpcOutboundListener({
      source,
      tokens,
      upstreams: out.upstreams
        .filter((u) => u.protocol === 'grpc')
        .map((u) => ({
          ...tokenRequestOf(u),
          name: u.name,
          url: u.url,
          ...(u.spiffeId !== undefined ? { spiffeId: u.spiffeId } : {}),
        })),
      host: out.host,
      port: out.grpcPort,
      allowNonLoopback: out.allowNonLoopback,
      logger: deps.logger.child({ component: 'outbound-grpc' }),
      onCall: (upstream, code) => metrics.outboundRequests.inc({ upstream, result: code ?? 'ok' }),
    }),
    (l) => l.drain(0),
  );
  return { http, grpc };
}
