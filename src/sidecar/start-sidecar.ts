import type { CertboundConfig } from '../config/schema.js';
import { watchCertificateValidity } from '../identity/certificate-validity.js';
import { watchIdentityStats } from '../identity/identity-stats.js';
import type { X509Source } from '../identity/x509-source.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type SidecarMetrics } from '../observability/metrics.js';
import { TokenClient } from '../token/token-client.js';
import type { Verifier } from '../verify/create-verifier.js';
import { startAdminServer, type AdminServer } from './admin-server.js';
import { readConfiguredFile, tokenRequestOf } from './config-files.js';
import { identitySourceOf } from './identity-source.js';
import type { InboundListener } from './inbound/inbound-listener.js';
import type { InboundGrpcHandler } from './inbound/grpc-dispatch.js';
import { Lifecycle } from './lifecycle.js';
import { startLocalApi, type LocalApi } from './local-api/local-api.js';
import type { GrpcOutboundListener } from './outbound/grpc-outbound-listener.js';
import type { OutboundListener } from './outbound/outbound-proxy.js';
import { Readiness } from './readiness.js';
import { startInbound } from './start-inbound.js';
import { startOutbound } from './start-outbound.js';
import { verifierPlanOf, warmUpKeys } from './verifier-of-config.js';

/** Options of {@link startSidecar} that are not configuration. */
export interface SidecarOptions {
  /** Root logger. Default: pino JSON on stdout at `config.logLevel`. */
  logger?: Logger;
  /** Replaces the inbound gRPC handler (default: forward to `inbound.app.grpcUrl`, or UNIMPLEMENTED). */
  inboundGrpcHandler?: InboundGrpcHandler;
  /** Export node process metrics. Default true. */
  processMetrics?: boolean;
}

/** Where a listener ended up. */
export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
}

/** A running sidecar. */
export interface Sidecar {
  readonly inbound: ListenerAddress | undefined;
  readonly outbound: ListenerAddress | undefined;
  /** The h2c listener gRPC apps dial for gRPC upstreams (`outbound.grpcPort`). */
  readonly outboundGrpc: ListenerAddress | undefined;
  readonly admin: ListenerAddress | undefined;
  /** gRPC target of the local token API (`unix:/…` or `127.0.0.1:PORT`). */
  readonly localApi: string | undefined;
  readonly source: X509Source;
  readonly metrics: SidecarMetrics;
  /**
   * True when the certificate in force is valid, the JWKS is usable (fetched, and not stale
   * while refetches fail) and, with upstreams, their tokens can be had; and not draining.
   */
  ready(): boolean;
  /** Resolves once {@link Sidecar.ready} is true (or rejects after `timeoutMs`). */
  whenReady(timeoutMs?: number): Promise<void>;
  /**
   * Graceful stop: readiness false, stop accepting, in-flight requests finish (at most
   * `shutdownGrace`), then sources, clients and the admin listener close.
   */
  close(): Promise<void>;
}

/**
 * The composition root: config → identity source → verifier → token client → listeners
 * (inbound mTLS proxy, outbound token proxy, local token API, admin). It only wires:
 * each component owns its readiness check and warm-up, and {@link Lifecycle} closes what
 * was opened in reverse order. Nothing is opened when a file named in the configuration
 * cannot be read.
 *
 * @throws CertboundError when the identity, JWKS file or CA files are unusable
 */
export async function startSidecar(
  config: CertboundConfig,
  options: SidecarOptions = {},
): Promise<Sidecar> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? true });
  const readiness = new Readiness(logger.child({ component: 'readiness' }));
  const lifecycle = new Lifecycle(logger);
  let stopped = false;

  // Files first: a bad path fails before any port is opened.
  const asCa =
    config.token?.asCaFile !== undefined
      ? await readConfiguredFile(config.token.asCaFile, 'token.asCaFile')
      : undefined;
  const plan = config.verify !== undefined ? await verifierPlanOf(config.verify) : undefined;
  const source = lifecycle.own(
    await identitySourceOf(config.identity, {
      requireServerAuth: config.inbound !== undefined,
      authMethod: config.token?.authMethod,
      logger,
    }),
    (s) => s.close(),
  );
  const stats = lifecycle.own(watchIdentityStats(source), (s) => s.close());
  metrics.observeIdentity(() => stats);
  const validity = lifecycle.own(
    watchCertificateValidity(source, {
      logger,
      ...(config.identity.expiryWarning !== undefined
        ? { expiryWarningMs: config.identity.expiryWarning }
        : {}),
    }),
    (v) => v.close(),
  );
  readiness.add(validity);
  metrics.observeCertificateExpiring(() => validity.expiring);

  let verifier: Verifier | undefined;
  let tokens: TokenClient | undefined;
  let inbound: InboundListener | undefined;
  let outbound: OutboundListener | undefined;
  let outboundGrpc: GrpcOutboundListener | undefined;
  let localApi: LocalApi | undefined;
  let admin: AdminServer | undefined;
  try {
    if (plan !== undefined) {
      const ver = lifecycle.own(
        plan.build(source, (issuer, result) =>
          metrics.introspectionRequests.inc({ issuer, result }),
        ),
        (v) => v.close(),
      );
      verifier = ver;
      metrics.observeVerifierCache(() => ver.stats());
      // One check for every issuer's keys and introspection; the reason names the one down.
      readiness.add({ name: plan.readinessName, check: () => ver.ready() });
      if (plan.remoteKeys) warmUpKeys(ver, logger, () => stopped);
    }

    if (config.token !== undefined) {
      const t = config.token;
      const client = lifecycle.own(
        new TokenClient({
          source,
          clientId: t.clientId,
          ...(t.issuer !== undefined ? { issuer: t.issuer } : {}),
          ...(t.tokenEndpoint !== undefined ? { tokenEndpoint: t.tokenEndpoint } : {}),
          authMethod: t.authMethod,
          ...(asCa !== undefined ? { ca: asCa } : {}),
          timeoutMs: t.timeout,
          refreshAtFraction: t.refreshAt,
          logger,
        }),
        (c) => c.close(),
      );
      tokens = client;
      const upstreams = config.outbound?.upstreams ?? [];
      if (upstreams.length > 0) {
        // Warm-up: one token per upstream (the first calls find it cached); the token
        // client retries with its backoff and logs each distinct failure.
        readiness.add({ name: 'tokenEndpoint', check: () => client.ready() });
        void client.warmUp(upstreams.map(tokenRequestOf));
      }
    }

    if (config.inbound !== undefined && verifier !== undefined) {
      inbound = await startInbound(config.inbound, {
        source,
        verifier,
        logger,
        metrics,
        lifecycle,
        inboundGrpcHandler: options.inboundGrpcHandler,
      });
    }

    if (config.outbound !== undefined && tokens !== undefined) {
      const started = await startOutbound(config.outbound, {
        source,
        tokens,
        logger,
        metrics,
        lifecycle,
      });
      outbound = started.http;
      outboundGrpc = started.grpc;
    }

    if (config.localApi !== undefined && tokens !== undefined) {
      const api = config.localApi;
      localApi = lifecycle.own(
        await startLocalApi({
          tokens,
          source,
          ...(api.socket !== undefined
            ? { socketPath: api.socket }
            : { host: api.host, port: api.port }),
        }),
        (l) => l.close(),
      );
    }

    if (config.admin !== undefined) {
      admin = lifecycle.own(
        await startAdminServer({
          host: config.admin.host,
          port: config.admin.port,
          readiness: () => readiness.report(),
          registry: metrics.registry,
          logger,
        }),
        (a) => a.close(),
      );
    }
  } catch (err) {
    stopped = true;
    await lifecycle.closeAll();
    throw err;
  }

  logger.info(
    {
      inbound: inbound && `${inbound.host}:${inbound.port}`,
      outbound: outbound && `${outbound.host}:${outbound.port}`,
      outboundGrpc: outboundGrpc && `${outboundGrpc.host}:${outboundGrpc.port}`,
      admin: admin && `${admin.host}:${admin.port}`,
      localApi: localApi?.address,
      spiffeId: source.current().spiffeId,
    },
    'certbound sidecar started',
  );

  let closing: Promise<void> | undefined;
  return {
    inbound: inbound && { host: inbound.host, port: inbound.port },
    outbound: outbound && { host: outbound.host, port: outbound.port },
    outboundGrpc: outboundGrpc && { host: outboundGrpc.host, port: outboundGrpc.port },
    admin: admin && { host: admin.host, port: admin.port },
    localApi: localApi?.address,
    source,
    metrics,
    ready: () => readiness.ready,
    whenReady(timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (readiness.ready) return resolve();
          if (stopped || Date.now() > deadline)
            return reject(new Error(`sidecar not ready: ${JSON.stringify(readiness.report())}`));
          setTimeout(check, 25).unref();
        };
        check();
      });
    },
    close(): Promise<void> {
      closing ??= (async () => {
        readiness.drain();
        stopped = true;
        logger.info({ graceMs: config.shutdownGrace }, 'draining');
        await Promise.all([
          inbound?.drain(config.shutdownGrace),
          outbound?.drain(config.shutdownGrace),
          outboundGrpc?.drain(config.shutdownGrace),
        ]);
        await lifecycle.closeAll();
        logger.info('stopped');
      })();
      return closing;
    },
  };
}
