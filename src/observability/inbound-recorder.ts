import type { PeerIdentity } from '../binding/peer-identity.js';
import { ERROR_TABLE, type ErrorCode } from '../errors.js';
import type { Principal } from '../verify/principal.js';
import type { Logger } from './logger.js';
import type { SidecarMetrics } from './metrics.js';

/** How one inbound call ended, as every transport reports it. */
export interface InboundOutcome {
  /** `http` (proxy, middleware, Fastify) or `grpc` (interceptor, sidecar forwarding). */
  readonly transport: 'http' | 'grpc';
  /** HTTP method; gRPC calls are `POST`. */
  readonly method: string;
  /** The normalised path the policy saw, or `/package.Service/Method`; undefined when the target itself was refused. */
  readonly path: string | undefined;
  /** HTTP status answered (gRPC: the HTTP/2 status, 200), or 101 for an upgrade. */
  readonly status: number;
  /** gRPC status code, for gRPC calls. */
  readonly grpcStatus?: number;
  /** The stable code of a refusal or failure; undefined for a call that was served. */
  readonly code: ErrorCode | undefined;
  /** The verified caller, when verification passed. */
  readonly principal?: Principal | undefined;
  /** The certificate of the connection (known even when the token was refused). */
  readonly peer?: PeerIdentity | null | undefined;
  /** `performance.now()` when the call arrived. */
  readonly startedAt: number;
  /** The W3C `traceparent` the call carried, if any (only its trace id is logged). */
  readonly traceparent?: string | undefined;
}

/** One metrics + access-log path for every inbound call, HTTP or gRPC. */
export interface InboundRecorder {
  /** Counts the call (`result`, `code`) and writes its access-log line. Never throws. */
  record(outcome: InboundOutcome): void;
}

/**
 * `ok` for a served call, `error` when certbound or the app failed (5xx in the error
 * table: app unreachable, timeouts, outages), `rejected` when the caller was refused
 * (including its excess refused by a concurrency limit) — the
 * same for HTTP and gRPC, since both read the one table.
 */
export function resultOf(code: ErrorCode | undefined): 'ok' | 'rejected' | 'error' {
  if (code === undefined) return 'ok';
  // A caller's excess refused on purpose is a refusal, not a failure (issue 12).
  if (code === 'ERR_OVERLOADED' || code === 'ERR_TOO_MANY_CONNECTIONS') return 'rejected';
  return ERROR_TABLE[code].http >= 500 ? 'error' : 'rejected';
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/** The trace id of a W3C `traceparent` (version 00 layout), or undefined when malformed. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  const id = TRACEPARENT.exec(traceparent.trim().toLowerCase())?.[1];
  return id === undefined || /^0+$/.test(id) ? undefined : id;
}

/** Options of {@link createInboundRecorder}. */
export interface InboundRecorderOptions {
  /** Access-log lines go here at `info` (message `inbound request`). */
  readonly logger?: Logger | undefined;
  readonly metrics?: SidecarMetrics | undefined;
}

/**
 * Creates the recorder every transport shares. The access log has the same fields for
 * HTTP and gRPC: transport, method, path, status (and grpcStatus), code, clientId, the
 * peer's SPIFFE ID and a thumbprint prefix (never a token, never the whole certificate),
 * issuer, the validator that accepted the token, duration and the trace id. Refusals carry the caller's certificate identity.
 */
export function createInboundRecorder(options: InboundRecorderOptions): InboundRecorder {
  const { logger, metrics } = options;
  // The hot path's label set, bound once (prom-client hashes a label object per call).
  const ok = metrics?.inboundRequests.labels({ result: 'ok', code: 'none' });
  return {
    record(outcome) {
      const code = outcome.code;
      if (code === undefined) ok?.inc();
      else metrics?.inboundRequests.inc({ result: resultOf(code), code });
      if (logger === undefined || !logger.isLevelEnabled('info')) return;
      const peer = outcome.principal ?? outcome.peer ?? undefined;
      logger.info(
        {
          transport: outcome.transport,
          method: outcome.method,
          path: outcome.path,
          status: outcome.status,
          grpcStatus: outcome.grpcStatus,
          code,
          clientId: outcome.principal?.clientId,
          issuer: outcome.principal?.issuer,
          // Which validator accepted the token: `jwt` or `introspection` (issue 14).
          validator: outcome.principal?.validator,
          spiffeId: peer?.spiffeId,
          thumbprint: peer?.thumbprint?.slice(0, 12),
          // Which proof was checked, and where the client certificate came from (issues 15, 16).
          proof: outcome.principal?.proof,
          certSource: outcome.principal?.certificateSource,
          forwardedBy:
            outcome.principal?.forwardedBy?.spiffeId ??
            outcome.principal?.forwardedBy?.thumbprint.slice(0, 12),
          traceId: traceIdOf(outcome.traceparent),
          durationMs: Math.round((performance.now() - outcome.startedAt) * 1000) / 1000,
        },
        'inbound request',
      );
    },
  };
}
