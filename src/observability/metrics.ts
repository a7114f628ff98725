import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one sidecar (own registry: several sidecars may share a process). */
export interface SidecarMetrics {
  readonly registry: Registry;
  /** Inbound requests by `result` (`ok`/`rejected`/`error`) and error `code` (`none` on success). */
  readonly inboundRequests: Counter<'result' | 'code'>;
  /** Seconds spent verifying a token + binding (cache hits included). */
  readonly verifyDuration: Histogram<'result'>;
  /** Outbound token requests to the TokenProvider by `result` (`ok` or the error code). */
  readonly tokenFetches: Counter<'result'>;
  /**
   * RFC 7662 introspection calls by `issuer` and `result` (`active`, `inactive`, `refused`,
   * `unavailable`); cached answers are not counted.
   */
  readonly introspectionRequests: Counter<'issuer' | 'result'>;
  /** DPoP proofs checked (RFC 9449), by `result`: `ok` or the `ERR_DPOP_*` code. */
  readonly dpopProofs: Counter<'result'>;
  /** DPoP proofs refused as replays (same key and jti seen within the window). */
  readonly dpopReplayHits: Counter;
  /** `use_dpop_nonce` challenges sent (proof without, or with a stale or forged, nonce). */
  readonly dpopNonceChallenges: Counter;
  /** Outbound proxied requests by `upstream` and `result`. */
  readonly outboundRequests: Counter<'upstream' | 'result'>;
  /** notAfter of the workload certificate in force, seconds since the epoch. */
  readonly certExpiry: Gauge;
  /** Identity updates by `result` (`ok`/`rejected`). */
  readonly rotations: Counter<'result'>;
  /** 1 while the certificate in force is in its expiry-warning window (or expired) without a replacement. */
  readonly certExpiring: Gauge;
  /** Open connections per `listener`. */
  readonly activeConnections: Gauge<'listener'>;
  /** SIGHUP configuration reloads by `result` (`success`, `failure`), both from zero. */
  readonly configReloads: Counter<'result'>;
  /** Seconds from the arrival of an inbound call to its answer, by `transport` (`http`/`grpc`). */
  readonly inboundDuration: Histogram<'transport'>;
  /** Seconds the app took for a verified inbound HTTP request (request sent → response ended). */
  readonly appDuration: Histogram;
  /** Seconds an outbound proxied request took, token included, by `upstream`. */
  readonly outboundDuration: Histogram<'upstream'>;
  /** Handshakes refused on a TLS `listener`, by bounded `reason` (see `tlsFailureReasonOf`). */
  readonly tlsHandshakeFailures: Counter<'listener' | 'reason'>;
  /** Connections closed at accept by a `listener`, by `reason` (`max_connections`). */
  readonly connectionsRefused: Counter<'listener' | 'reason'>;
  /** JWKS fetches by `issuer` and `result` (`ok`/`error`). */
  readonly jwksRefreshes: Counter<'issuer' | 'result'>;
  /** Keys in the last JWKS fetched, by `issuer`. */
  readonly jwksKeys: Gauge<'issuer'>;
  /** Seconds of one token request to the AS, by `result` (`ok`/`error`). */
  readonly tokenRequestDuration: Histogram<'result'>;
  /** Seconds of one RFC 7662 introspection call, by `issuer` and `result`. */
  readonly introspectionDuration: Histogram<'issuer' | 'result'>;
  /**
   * Sets every counter of the known label values to zero, so a rate() over a series that
   * never moved is 0, not "no data" (Prometheus instrumentation practice).
   */
  initialise(known: KnownLabels): void;
  /**
   * Registers a reader of the notAfter (Unix seconds) of each certificate source
   * (`workload`, `trust_bundle`); exported as `certbound_certificate_expiry_seconds{source}`,
   * the seconds left, at scrape time.
   */
  observeCertificateSources(read: () => Readonly<Record<string, number>>): void;
  /**
   * Requests that carried a forwarded-client-certificate `header` over a connection that is
   * not a trusted hop (the header was stripped, not read).
   */
  readonly forwardedCertUntrusted: Counter<'header'>;
  /**
   * Registers a reader of the inbound requests in flight (admitted, not yet answered); it is
   * exported as `certbound_inbound_requests_in_flight` at scrape time.
   */
  observeInboundInFlight(read: () => number): void;
  /**
   * Registers a reader of the verified-token cache counters; they are exported as
   * `certbound_verify_cache_hits_total` / `_misses_total` at scrape time.
   */
  observeVerifierCache(read: () => { cacheHits: number; cacheMisses: number }): void;
  /**
   * Registers a reader of the identity source's stats (`watchIdentityStats`): expiry
   * timestamp and rotations by result are exported from it at scrape time.
   */
  observeIdentity(
    read: () => { expiryTimestampSeconds: number; rotations: { ok: number; rejected: number } },
  ): void;
  /** Registers a reader of "the renewal is late" (`certbound_identity_expiring`, read at scrape time). */
  observeCertificateExpiring(read: () => boolean): void;
}

/** The label values a sidecar knows at start-up (configured names only: bounded). */
export interface KnownLabels {
  /** Issuers whose keys are fetched (JWKS URL). */
  readonly jwksIssuers?: readonly string[];
  /** Issuers with token introspection. */
  readonly introspectionIssuers?: readonly string[];
  readonly upstreams?: readonly string[];
  /** Listener names (`inbound`, `outbound`, …). */
  readonly listeners?: readonly string[];
  /** Listeners that terminate TLS (handshake failures). */
  readonly tlsListeners?: readonly string[];
}

/** The bounded `reason` values of `certbound_tls_handshake_failures_total`. */
export const TLS_FAILURE_REASONS = [
  'no_client_certificate',
  'untrusted_client_certificate',
  'client_certificate_expired',
  'peer_refused_certificate',
  'protocol_version',
  'no_shared_cipher',
  'not_tls',
  'timeout',
  'connection_reset',
  'other',
] as const;

/** One of {@link TLS_FAILURE_REASONS}. */
export type TlsFailureReason = (typeof TLS_FAILURE_REASONS)[number];

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Also export node's process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
  /** certbound's version, for `certbound_build_info`. Default `unknown`. */
  version?: string;
}

// Latency buckets from 0.5 ms (a cached verification plus a local app) to 30 s (timeouts).
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
// Calls to the AS over mTLS: a new handshake is tens of milliseconds.
const AS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Creates the metrics of one sidecar in a fresh registry. */
export function createMetrics(options: MetricsOptions = {}): SidecarMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  let readCache: (() => { cacheHits: number; cacheMisses: number }) | undefined;
  let seenHits = 0;
  let seenMisses = 0;
  new Counter({
    name: 'certbound_verify_cache_hits_total',
    help: 'Verified-token cache hits (signature work saved; exp and binding still checked).',
    registers: [registry],
    collect() {
      const now = readCache?.().cacheHits ?? seenHits;
      if (now > seenHits) this.inc(now - seenHits);
      seenHits = now;
    },
  });
  new Counter({
    name: 'certbound_verify_cache_misses_total',
    help: 'Verified-token cache misses (full signature verification).',
    registers: [registry],
    collect() {
      const now = readCache?.().cacheMisses ?? seenMisses;
      if (now > seenMisses) this.inc(now - seenMisses);
      seenMisses = now;
    },
  });
  let readInFlight: (() => number) | undefined;
  new Gauge({
    name: 'certbound_inbound_requests_in_flight',
    help: 'Inbound requests admitted and not yet answered (HTTP and gRPC).',
    registers: [registry],
    collect() {
      this.set(readInFlight?.() ?? 0);
    },
  });
  let readIdentity:
    | (() => { expiryTimestampSeconds: number; rotations: { ok: number; rejected: number } })
    | undefined;
  const seenRotations = { ok: 0, rejected: 0 };
  let readExpiring: (() => boolean) | undefined;
  new Gauge({
    name: 'certbound_build_info',
    help: 'Always 1; the labels say which certbound and node.js version run.',
    labelNames: ['version', 'node'],
    registers: [registry],
  }).set({ version: options.version ?? 'unknown', node: process.versions.node }, 1);
  let readSources: (() => Readonly<Record<string, number>>) | undefined;
  new Gauge({
    name: 'certbound_certificate_expiry_seconds',
    help: 'Seconds until the notAfter of each certificate source (workload, trust_bundle: the first CA to expire); negative once expired.',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      const now = Date.now() / 1000;
      for (const [source, notAfter] of Object.entries(readSources?.() ?? {}))
        if (Number.isFinite(notAfter)) this.set({ source }, Math.round(notAfter - now));
    },
  });
  const inboundRequests = new Counter({
    name: 'certbound_inbound_requests_total',
    help: 'Inbound requests by result and error code.',
    labelNames: ['result', 'code'] as const,
    registers: [registry],
  });
  const tokenFetches = new Counter({
    name: 'certbound_token_fetches_total',
    help: 'Outbound token requests by result (ok or error code).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const introspectionRequests = new Counter({
    name: 'certbound_introspection_requests_total',
    help: 'Token introspection calls to the authorization server by issuer and result.',
    labelNames: ['issuer', 'result'] as const,
    registers: [registry],
  });
  const outboundRequests = new Counter({
    name: 'certbound_outbound_requests_total',
    help: 'Outbound proxied requests by upstream and result.',
    labelNames: ['upstream', 'result'] as const,
    registers: [registry],
  });
  const tlsHandshakeFailures = new Counter({
    name: 'certbound_tls_handshake_failures_total',
    help: 'TLS handshakes refused by a listener, by reason.',
    labelNames: ['listener', 'reason'] as const,
    registers: [registry],
  });
  const connectionsRefused = new Counter({
    name: 'certbound_connections_refused_total',
    help: 'Connections closed at accept by a listener, by reason (max_connections).',
    labelNames: ['listener', 'reason'] as const,
    registers: [registry],
  });
  const jwksRefreshes = new Counter({
    name: 'certbound_jwks_refreshes_total',
    help: 'JWKS fetches by issuer and result (ok, error).',
    labelNames: ['issuer', 'result'] as const,
    registers: [registry],
  });
  const jwksKeys = new Gauge({
    name: 'certbound_jwks_keys',
    help: 'Keys in the last JWKS fetched, by issuer.',
    labelNames: ['issuer'] as const,
    registers: [registry],
  });
  const tokenRequestDuration = new Histogram({
    name: 'certbound_token_request_duration_seconds',
    help: 'Time of one token request to the authorization server, by result (ok, error).',
    labelNames: ['result'] as const,
    buckets: AS_BUCKETS,
    registers: [registry],
  });
  const introspectionDuration = new Histogram({
    name: 'certbound_introspection_request_duration_seconds',
    help: 'Time of one introspection call to the authorization server, by issuer and result.',
    labelNames: ['issuer', 'result'] as const,
    buckets: AS_BUCKETS,
    registers: [registry],
  });
  const rotations = new Counter({
    name: 'certbound_identity_rotations_total',
    help: 'Workload identity updates by result (ok, rejected).',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      const now = readIdentity?.().rotations;
      if (now === undefined) return;
      for (const result of ['ok', 'rejected'] as const) {
        if (now[result] > seenRotations[result])
          this.inc({ result }, now[result] - seenRotations[result]);
        seenRotations[result] = now[result];
      }
    },
  });
  for (const result of ['ok', 'rejected'] as const) rotations.inc({ result }, 0);
  return {
    registry,
    inboundRequests,
    tokenFetches,
    introspectionRequests,
    outboundRequests,
    tlsHandshakeFailures,
    connectionsRefused,
    jwksRefreshes,
    jwksKeys,
    tokenRequestDuration,
    introspectionDuration,
    verifyDuration: new Histogram({
      name: 'certbound_verify_duration_seconds',
      help: 'Time to verify a bound token (signature, claims, binding).',
      labelNames: ['result'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
      registers: [registry],
    }),
    dpopProofs: new Counter({
      name: 'certbound_dpop_proofs_total',
      help: 'DPoP proofs checked, by result (ok or the ERR_DPOP_* code).',
      labelNames: ['result'],
      registers: [registry],
    }),
    dpopReplayHits: new Counter({
      name: 'certbound_dpop_replay_hits_total',
      help: 'DPoP proofs refused as replays (key and jti already seen in the acceptance window).',
      registers: [registry],
    }),
    dpopNonceChallenges: new Counter({
      name: 'certbound_dpop_nonce_challenges_total',
      help: 'use_dpop_nonce challenges sent (missing, stale or forged nonce).',
      registers: [registry],
    }),
    certExpiry: new Gauge({
      name: 'certbound_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the workload certificate in force.',
      registers: [registry],
      collect() {
        const expiry = readIdentity?.().expiryTimestampSeconds;
        if (expiry !== undefined && Number.isFinite(expiry)) this.set(expiry);
      },
    }),
    rotations,
    certExpiring: new Gauge({
      name: 'certbound_identity_expiring',
      help: 'Whether the workload certificate in force is in its expiry-warning window or expired without having been replaced (1) or not (0).',
      registers: [registry],
      collect() {
        if (readExpiring !== undefined) this.set(readExpiring() ? 1 : 0);
      },
    }),
    activeConnections: new Gauge({
      name: 'certbound_active_connections',
      help: 'Open connections per listener.',
      labelNames: ['listener'],
      registers: [registry],
    }),
    forwardedCertUntrusted: new Counter({
      name: 'certbound_forwarded_cert_untrusted_total',
      help: 'Requests carrying a forwarded client certificate header from a connection that is not a trusted hop (stripped).',
      labelNames: ['header'],
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'certbound_config_reloads_total',
      help: 'Configuration reloads (SIGHUP) by result: success, or failure (the running configuration kept).',
      labelNames: ['result'],
      registers: [registry],
    }),
    inboundDuration: new Histogram({
      name: 'certbound_inbound_request_duration_seconds',
      help: 'Time from the arrival of an inbound call to its answer, by transport (http, grpc).',
      labelNames: ['transport'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    appDuration: new Histogram({
      name: 'certbound_app_request_duration_seconds',
      help: 'Time the app took for a verified inbound HTTP request (request sent to response ended).',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    outboundDuration: new Histogram({
      name: 'certbound_outbound_request_duration_seconds',
      help: 'Time of an outbound proxied request (token and upstream), by upstream.',
      labelNames: ['upstream'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    initialise(known) {
      for (const result of ['ok', 'error'] as const) {
        tokenRequestDuration.zero({ result });
        for (const issuer of known.jwksIssuers ?? []) jwksRefreshes.inc({ issuer, result }, 0);
      }
      tokenFetches.inc({ result: 'ok' }, 0);
      for (const issuer of known.introspectionIssuers ?? [])
        for (const result of ['active', 'inactive', 'refused', 'unavailable'] as const)
          introspectionRequests.inc({ issuer, result }, 0);
      for (const upstream of known.upstreams ?? [])
        outboundRequests.inc({ upstream, result: 'ok' }, 0);
      for (const listener of known.listeners ?? [])
        connectionsRefused.inc({ listener, reason: 'max_connections' }, 0);
      for (const listener of known.tlsListeners ?? [])
        for (const reason of TLS_FAILURE_REASONS) tlsHandshakeFailures.inc({ listener, reason }, 0);
    },
    observeCertificateSources(read) {
      readSources = read;
    },
    observeInboundInFlight(read) {
      readInFlight = read;
    },
    observeVerifierCache(read) {
      readCache = read;
    },
    observeIdentity(read) {
      readIdentity = read;
    },
    observeCertificateExpiring(read) {
      readExpiring = read;
    },
  };
}
