import type { CertboundConfig } from '../config/schema.js';
import { watchCertificateValidity } from '../identity/certificate-validity.js';
import { watchIdentityStats } from '../identity/identity-stats.js';
import type { X509Source } from '../identity/x509-source.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type KnownLabels, type SidecarMetrics } from '../observability/metrics.js';
import { startTracing } from '../observability/tracing.js';
import { packageVersion } from '../cli/version.js';
import { TokenClient } from '../token/token-client.js';
import type { ProofSources } from '../verify/proof-inputs.js';
import { startAdminServer, type AdminServer } from './admin-server.js';
import { tokenRequestOf } from './config-files.js';
import { prepareSidecar } from './prepare-sidecar.js';
import type { InboundListener } from './inbound/inbound-listener.js';
import type { InboundGrpcHandler } from './inbound/grpc-dispatch.js';
import { Lifecycle } from './lifecycle.js';
import type { LocalApi } from './local-api/local-api.js';
import type { GrpcOutboundListener } from './outbound/grpc-outbound-listener.js';
import type { OutboundListener } from './outbound/outbound-proxy.js';
import { Readiness } from './readiness.js';
import { forwardedCertificatesOf } from './forwarded-certificates-of-config.js';
import { issuersOf, startInbound } from './start-inbound.js';
import { startOutbound } from './start-outbound.js';
import { DPOP_READINESS_NAME, dpopVerifierOf } from './dpop-of-config.js';
import { createReloader, type ReloadOutcome } from './sidecar-reload.js';
import { SwappableVerifier } from './swappable-verifier.js';
import { verifierMetricHooks, warmUpKeys } from './verifier-of-config.js';

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
   * Reloads the configuration (SIGHUP) without dropping a connection: `load` reads and
   * validates the new file; log level, drain time, route policies, the `verify` section
   * and HTTP upstreams are applied live, other changes are reported as needing a restart.
   * A configuration that fails (invalid, unreadable file, keys not fetchable) is refused
   * and the running one kept. Never rejects.
   */
  reload(load: () => Promise<CertboundConfig>): Promise<ReloadOutcome>;
  /**
   * Graceful stop: readiness false, stop accepting, in-flight requests finish (at most
   * `shutdownGrace`), then sources, clients and the admin listener close.
   */
  close(): Promise<void>;
}

/** The label values of the metrics that the configuration names (all bounded). */
function knownLabelsOf(config: CertboundConfig): KnownLabels {
  const v = config.verify;
  const single = typeof v?.issuer === 'string' ? v.issuer : (v?.issuer?.[0] ?? 'unknown');
  const jwksIssuers =
    v?.issuers !== undefined
      ? v.issuers.filter((i) => i.jwksUri !== undefined).map((i) => i.issuer)
      : v?.jwksUri !== undefined
        ? [single]
        : [];
  return {
    jwksIssuers,
    introspectionIssuers: (v?.issuers ?? [])
      .filter((i) => i.introspection !== undefined)
      .map((i) => i.issuer),
    upstreams: (config.outbound?.upstreams ?? []).map((u) => u.name),
    listeners: config.inbound !== undefined ? ['inbound'] : [],
    tlsListeners: config.inbound !== undefined ? ['inbound'] : [],
  };
}

/** notAfter (Unix seconds) of the workload certificate and of the first bundle CA to expire. */
function certificateSourcesOf(source: X509Source): Record<string, number> {
  let identity;
  try {
    identity = source.current();
  } catch {
    return {};
  }
  const bundle = Math.min(...identity.bundle.map((ca) => Date.parse(ca.validTo) / 1000));
  return { workload: identity.notAfter.getTime() / 1000, trust_bundle: bundle };
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
  const version = packageVersion();
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? true, version });
  const readiness = new Readiness(logger.child({ component: 'readiness' }));
  const lifecycle = new Lifecycle(logger);
  let stopped = false;
  // Read on every request; a reload replaces them.
  const live = { policies: config.inbound?.policies ?? [] };
  metrics.initialise(knownLabelsOf(config));
  // Owned first, so closed last: the spans of the drain are exported too.
  const tracing = await startTracing(config.tracing, { version, logger });
  if (tracing !== undefined) lifecycle.own(tracing, (t) => t.shutdown());

  // Files first: a bad path fails before any port is opened (config check runs the same).
  const prepared = await prepareSidecar(config, { logger });
  const { asCa, plan } = prepared;
  const source = lifecycle.own(prepared.source, (s) => s.close());
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
  metrics.observeCertificateSources(() => certificateSourcesOf(source));

  // Client certificates forwarded by trusted TLS-terminating hops (inbound.forwardedClientCert);
  // a verifier rebuilt by a reload keeps them.
  const forwarded =
    config.inbound?.forwardedClientCert !== undefined
      ? forwardedCertificatesOf(config.inbound.forwardedClientCert, { source, logger, metrics })
      : undefined;
  let verifier: SwappableVerifier | undefined;
  let tokens: TokenClient | undefined;
  let inbound: InboundListener | undefined;
  let outbound: OutboundListener | undefined;
  let outboundGrpc: GrpcOutboundListener | undefined;
  let localApi: LocalApi | undefined;
  let admin: AdminServer | undefined;
  let proofSources: ProofSources = { forwardedCertificates: forwarded };
  try {
    if (plan !== undefined) {
      const dpopConfig = config.verify?.dpop;
      const dpop =
        dpopConfig !== undefined
          ? lifecycle.own(
              await dpopVerifierOf(
                dpopConfig,
                config.inbound?.publicOrigin,
                logger,
                metrics,
                config.profile,
              ),
              (d) => d.close(),
            )
          : undefined;
      // The sidecar owns the DPoP verifier (its replay store outlives a reloaded verifier).
      proofSources = { ...proofSources, dpop: dpop && { ...dpop, close: undefined } };
      // Read through a holder: a reload swaps the verifier under the running listeners.
      const hooks = verifierMetricHooks(metrics);
      const ver = lifecycle.own(
        new SwappableVerifier(
          plan.build(source, hooks.onIntrospection, hooks.onJwksFetch, proofSources),
        ),
        (v) => v.close(),
      );
      if (dpop !== undefined) {
        // /readyz names the shared replay store on its own (RFC 9449 §11.1 replay checks).
        readiness.add({
          name: DPOP_READINESS_NAME,
          check: () => {
            const problem = dpop.readinessProblem();
            return problem === undefined ? { ok: true } : { ok: false, reason: problem };
          },
        });
      }
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
          onRequest: (result, seconds) => metrics.tokenRequestDuration.observe({ result }, seconds),
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
        live,
        source,
        verifier,
        logger,
        metrics,
        lifecycle,
        inboundGrpcHandler: options.inboundGrpcHandler,
        forwarded,
        dpopAlgorithms: proofSources.dpop?.algorithms,
        authorizationServers: config.verify !== undefined ? issuersOf(config.verify) : [],
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
      // grpc-js and the proto files load only when the local token API is configured
      // (≈20 MiB and ≈200 ms of start-up otherwise).
      const { startLocalApi } = await import('./local-api/local-api.js');
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

  const reloads = {
    logger,
    metrics,
    source,
    proofSources,
    verifier,
    live,
    outbound,
    tokens,
    running: config,
  };
  const reload = createReloader(reloads);
  let closing: Promise<void> | undefined;
  return {
    reload,
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
        const graceMs = reloads.running.shutdownGrace;
        logger.info({ graceMs }, 'draining');
        await Promise.all([
          inbound?.drain(graceMs),
          outbound?.drain(graceMs),
          outboundGrpc?.drain(graceMs),
        ]);
        await lifecycle.closeAll();
        logger.info('stopped');
      })();
      return closing;
    },
  };
}
