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

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Also export node's process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
}

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
  return {
    registry,
    inboundRequests: new Counter({
      name: 'certbound_inbound_requests_total',
      help: 'Inbound requests by result and error code.',
      labelNames: ['result', 'code'],
      registers: [registry],
    }),
    verifyDuration: new Histogram({
      name: 'certbound_verify_duration_seconds',
      help: 'Time to verify a bound token (signature, claims, binding).',
      labelNames: ['result'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
      registers: [registry],
    }),
    tokenFetches: new Counter({
      name: 'certbound_token_fetches_total',
      help: 'Outbound token requests by result (ok or error code).',
      labelNames: ['result'],
      registers: [registry],
    }),
    introspectionRequests: new Counter({
      name: 'certbound_introspection_requests_total',
      help: 'Token introspection calls to the authorization server by issuer and result.',
      labelNames: ['issuer', 'result'],
      registers: [registry],
    }),
    outboundRequests: new Counter({
      name: 'certbound_outbound_requests_total',
      help: 'Outbound proxied requests by upstream and result.',
      labelNames: ['upstream', 'result'],
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
    rotations: new Counter({
      name: 'certbound_identity_rotations_total',
      help: 'Workload identity updates by result (ok, rejected).',
      labelNames: ['result'],
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
    }),
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
    configReloads: new Counter({
      name: 'certbound_config_reloads_total',
      help: 'Configuration reloads (SIGHUP) by result: success, or failure (the running configuration kept).',
      labelNames: ['result'],
      registers: [registry],
    }),
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
