import { readFile } from 'node:fs/promises';
import type { CertboundConfig } from '../config/schema.js';
import { CertboundError } from '../errors.js';
import { watchCertificateValidity } from '../identity/certificate-validity.js';
import { FailureLog } from '../identity/identity-logger.js';
import { watchIdentityStats } from '../identity/identity-stats.js';
import type { X509Source } from '../identity/x509-source.js';
import { startAdminServer, type AdminServer } from './admin-server.js';
import { startInboundListener, type InboundListener } from './inbound/inbound-listener.js';
import { createInboundProxy, type InboundProxy } from './inbound/inbound-proxy.js';
import type { InboundGrpcHandler } from './inbound/grpc-dispatch.js';
import { startOutboundListener, type OutboundListener } from './outbound/outbound-proxy.js';
import { createGrpcForwarder, type GrpcForwarder } from './inbound/grpc-forwarder.js';
import { startLocalApi, type LocalApi } from './local-api/local-api.js';
import {
  startGrpcOutboundListener,
  type GrpcOutboundListener,
} from './outbound/grpc-outbound-listener.js';
import { onPeerRefusal } from '../binding/peer-refusal-channel.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createInboundRecorder } from '../observability/inbound-recorder.js';
import { createMetrics, type SidecarMetrics } from '../observability/metrics.js';
import type { TokenRequest } from '../token/access-token.js';
import { TokenClient } from '../token/token-client.js';
import { createVerifier, type Verifier } from '../verify/create-verifier.js';
import type { JwksOption } from '../verify/options.js';
import { Readiness } from './readiness.js';
import { identitySourceOf } from './identity-source.js';
import { retryUntil } from './retry-until.js';

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

async function readText(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CertboundError(
      'ERR_FILE_UNREADABLE',
      `${key}: ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
      { details: { key, path } },
    );
  }
}

async function jwksOptionOf(verify: NonNullable<CertboundConfig['verify']>): Promise<JwksOption> {
  if (verify.jwksFile !== undefined) {
    const text = await readText(verify.jwksFile, 'verify.jwksFile');
    try {
      return { keys: JSON.parse(text) as { keys: [] } };
    } catch {
      throw new CertboundError(
        'ERR_CONFIG_INVALID',
        `verify.jwksFile: ${verify.jwksFile} is not JSON.`,
      );
    }
  }
  return {
    url: verify.jwksUri as string,
    cooldownMs: verify.jwksCooldown,
    cacheMaxAgeMs: verify.jwksMaxAge,
    timeoutMs: verify.jwksTimeout,
    ...(verify.jwksCaFile !== undefined
      ? { ca: await readText(verify.jwksCaFile, 'verify.jwksCaFile') }
      : {}),
  };
}

function tokenRequestOf(
  u: NonNullable<CertboundConfig['outbound']>['upstreams'][number],
): TokenRequest {
  return {
    ...(u.audience !== undefined ? { audience: u.audience } : {}),
    ...(u.resource !== undefined ? { resource: u.resource } : {}),
    ...(u.scope !== undefined ? { scope: u.scope } : {}),
  };
}

/**
 * The composition root: config → identity source → verifier → token client → listeners
 * (inbound mTLS proxy, outbound token proxy, local token API, admin). Nothing is opened
 * when a file named in the configuration cannot be read.
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
  let stopped = false;
  const cleanups: Array<() => unknown> = [];
  const closeAll = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        logger.warn({ err }, 'cleanup failed');
      }
    }
  };

  // Files first: a bad path fails before any port is opened.
  const asCa =
    config.token?.asCaFile !== undefined
      ? await readText(config.token.asCaFile, 'token.asCaFile')
      : undefined;
  const jwks = config.verify !== undefined ? await jwksOptionOf(config.verify) : undefined;
  const source = await identitySourceOf(config.identity, {
    requireServerAuth: config.inbound !== undefined,
    logger,
  });
  cleanups.push(() => source.close());
  const stats = watchIdentityStats(source);
  cleanups.push(() => stats.close());
  metrics.observeIdentity(() => stats);
  const validity = watchCertificateValidity(source, {
    logger,
    ...(config.identity.expiryWarning !== undefined
      ? { expiryWarningMs: config.identity.expiryWarning }
      : {}),
  });
  cleanups.push(() => validity.close());
  readiness.add(validity);
  metrics.observeCertificateExpiring(() => validity.expiring);

  let verifier: Verifier | undefined;
  let tokens: TokenClient | undefined;
  let inbound: InboundListener | undefined;
  let proxy: InboundProxy | undefined;
  let grpcForwarder: GrpcForwarder | undefined;
  let outbound: OutboundListener | undefined;
  let outboundGrpc: GrpcOutboundListener | undefined;
  let localApi: LocalApi | undefined;
  let admin: AdminServer | undefined;
  try {
    if (config.verify !== undefined && jwks !== undefined) {
      const v = config.verify;
      verifier = createVerifier({
        jwks,
        issuer: v.issuer,
        audience: v.audience,
        ...(v.algorithms !== undefined ? { algorithms: v.algorithms } : {}),
        ...(v.types !== undefined ? { types: v.types } : {}),
        clockToleranceSec: v.clockTolerance / 1000,
        maxTokenLifetimeSec: v.maxTokenLifetime / 1000,
        maxTokenBytes: v.maxTokenBytes,
        cacheSize: v.cacheSize,
      });
      const ver = verifier;
      cleanups.push(() => ver.close());
      metrics.observeVerifierCache(() => ver.stats());
      readiness.add({ name: 'jwks', check: () => ver.ready() });
      if ('url' in jwks) {
        // Warm-up: fetch the keys before traffic arrives; the verifier owns the fetch.
        const log = logger.child({ component: 'verify' });
        const failures = new FailureLog(log);
        void retryUntil(
          () => ver.refreshKeys(),
          () => stopped,
          (err, tries, retryInMs) => {
            const error =
              err instanceof CertboundError
                ? err
                : new CertboundError('ERR_JWKS_UNAVAILABLE', undefined, { cause: err });
            failures.failure(
              `${error.code}|${error.message}`,
              { code: error.code, ...error.details, tries, retryInMs },
              `JWKS not usable yet (retrying with backoff): ${error.message}`,
              error.details['permanent'] === true ? 'error' : 'warn',
            );
          },
        ).then((ok) => {
          if (ok && failures.reset()) log.info('JWKS fetched');
        });
      }
    }

    if (config.token !== undefined) {
      const t = config.token;
      tokens = new TokenClient({
        source,
        clientId: t.clientId,
        ...(t.issuer !== undefined ? { issuer: t.issuer } : {}),
        ...(t.tokenEndpoint !== undefined ? { tokenEndpoint: t.tokenEndpoint } : {}),
        authMethod: t.authMethod,
        ...(asCa !== undefined ? { ca: asCa } : {}),
        timeoutMs: t.timeout,
        refreshAtFraction: t.refreshAt,
        logger,
      });
      const client = tokens;
      cleanups.push(() => client.close());
      const upstreams = config.outbound?.upstreams ?? [];
      if (upstreams.length > 0) {
        // Warm-up: one token per upstream (the first calls find it cached); the token
        // client retries with its backoff and logs each distinct failure.
        readiness.add({ name: 'tokenEndpoint', check: () => client.ready() });
        void client.warmUp(upstreams.map(tokenRequestOf));
      }
    }

    if (config.inbound !== undefined && verifier !== undefined) {
      const inb = config.inbound;
      // One line per refused client certificate (once per connection): names the reason.
      const refusalLog = logger.child({ component: 'inbound' });
      // One metrics + access-log path for every inbound call, HTTP and gRPC alike.
      const recorder = createInboundRecorder({ logger: refusalLog, metrics });
      cleanups.push(onPeerRefusal((r) => refusalLog.warn({ ...r }, 'client certificate refused')));
      if (options.inboundGrpcHandler === undefined && inb.app.grpcUrl !== undefined) {
        grpcForwarder = createGrpcForwarder({
          verifier,
          appUrl: inb.app.grpcUrl,
          policies: inb.policies,
          identityHeaderPrefix: inb.identityHeaderPrefix,
          keepAuthorization: inb.keepAuthorization,
          recorder,
        });
        const fwd = grpcForwarder;
        cleanups.push(() => fwd.close());
      }
      const grpcHandler = options.inboundGrpcHandler ?? grpcForwarder;
      const listenerRef: { current?: InboundListener } = {};
      proxy = createInboundProxy({
        verifier,
        policies: inb.policies,
        appUrl: inb.app.url,
        keepAuthorization: inb.keepAuthorization,
        identityHeaderPrefix: inb.identityHeaderPrefix,
        stripHeaders: inb.stripHeaders,
        maxHeaderBytes: inb.limits.maxHeaderBytes,
        appTimeoutMs: inb.limits.appTimeout,
        appMaxConnections: inb.app.maxConnections,
        maxConcurrentStreams: inb.limits.maxConcurrentStreams,
        ...(inb.limits.maxRequestsPerPeer !== undefined
          ? { maxRequestsPerPeer: inb.limits.maxRequestsPerPeer }
          : {}),
        ...(grpcHandler !== undefined ? { inboundGrpcHandler: grpcHandler } : {}),
        logger: refusalLog,
        metrics,
        recorder,
        draining: () => listenerRef.current?.draining ?? false,
      });
      const prx = proxy;
      cleanups.push(() => prx.close());
      const listener = await startInboundListener({
        source,
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
        logger: logger.child({ component: 'inbound' }),
        metrics,
      });
      inbound = listener;
      listenerRef.current = listener;
      cleanups.push(() => listener.drain(0));
    }

    if (config.outbound !== undefined && tokens !== undefined) {
      const out = config.outbound;
      const grpcUpstreams = out.upstreams.filter((u) => u.protocol === 'grpc');
      outbound = await startOutboundListener({
        source,
        tokens,
        upstreams: out.upstreams.filter((u) => u.protocol !== 'grpc'),
        host: out.host,
        port: out.port,
        allowNonLoopback: out.allowNonLoopback,
        logger: logger.child({ component: 'outbound' }),
        metrics,
      });
      const o = outbound;
      cleanups.push(() => o.drain(0));
      if (out.grpcPort !== undefined) {
        const grpcOut = await startGrpcOutboundListener({
          source,
          tokens,
          upstreams: grpcUpstreams.map((u) => ({
            ...tokenRequestOf(u),
            name: u.name,
            url: u.url,
            ...(u.spiffeId !== undefined ? { spiffeId: u.spiffeId } : {}),
          })),
          host: out.host,
          port: out.grpcPort,
          allowNonLoopback: out.allowNonLoopback,
          logger: logger.child({ component: 'outbound-grpc' }),
          onCall: (upstream, code) =>
            metrics.outboundRequests.inc({ upstream, result: code ?? 'ok' }),
        });
        outboundGrpc = grpcOut;
        cleanups.push(() => grpcOut.drain(0));
      }
    }

    if (config.localApi !== undefined && tokens !== undefined) {
      const api = config.localApi;
      localApi = await startLocalApi({
        tokens,
        source,
        ...(api.socket !== undefined
          ? { socketPath: api.socket }
          : { host: api.host, port: api.port }),
      });
      const l = localApi;
      cleanups.push(() => l.close());
    }

    if (config.admin !== undefined) {
      admin = await startAdminServer({
        host: config.admin.host,
        port: config.admin.port,
        readiness: () => readiness.report(),
        registry: metrics.registry,
        logger,
      });
      const a = admin;
      cleanups.push(() => a.close());
    }
  } catch (err) {
    stopped = true;
    await closeAll();
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
        await closeAll();
        logger.info('stopped');
      })();
      return closing;
    },
  };
}
