import type * as OtelApiModule from '@opentelemetry/api';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { TracingConfig } from '../config/tracing-schema.js';
import type { ErrorCode } from '../errors.js';
import { useTracingApi } from '../traced-call.js';
import type { Logger } from './logger.js';

type OtelApi = typeof OtelApiModule;

/** Running tracing: flush and stop with {@link Tracing.shutdown}. */
export interface Tracing {
  /** Where spans go (the OTLP/HTTP traces URL). */
  readonly endpoint: string;
  /** Exports what is buffered and unregisters the SDK. */
  shutdown(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Whether tracing is on: `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off
 * whatever the file says (the OpenTelemetry environment specification), an
 * `OTEL_TRACES_EXPORTER` naming `otlp` turns it on, otherwise `tracing.enabled` decides.
 */
export function tracingWanted(config: TracingConfig | undefined, env: Env = process.env): boolean {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return false;
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  if (exporters.includes('none')) return false;
  if (exporters.includes('otlp')) return true;
  return config?.enabled === true;
}

/**
 * The OTLP/HTTP traces URL: `tracing.endpoint`, else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as
 * is, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` (OTLP exporter specification), else
 * `http://localhost:4318/v1/traces`.
 */
export function tracesUrlOf(config: TracingConfig | undefined, env: Env = process.env): string {
  const signal = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim();
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  return (
    config?.endpoint ??
    (signal !== undefined && signal !== '' ? signal : undefined) ??
    `${base !== undefined && base !== '' ? base.replace(/\/+$/, '') : 'http://localhost:4318'}/v1/traces`
  );
}

// Read on the hot path instead of asking the API: with tracing off a request costs one
// boolean test, no span object, no context.
let active = false;
// The OpenTelemetry API, loaded by startTracing; the span functions run only while active.
let otel: OtelApi | undefined;
const api = (): OtelApi => otel as OtelApi;

/** True while an SDK started by {@link startTracing} is registered. */
export function tracingActive(): boolean {
  return active;
}

/** Options of {@link startTracing}. */
export interface StartTracingOptions {
  readonly version: string;
  readonly logger?: Logger;
  readonly env?: Env;
}

/**
 * Starts OpenTelemetry tracing (OTLP/HTTP, batch export, W3C trace context) when
 * {@link tracingWanted}; otherwise resolves `undefined` without loading the SDK (a dynamic
 * import: start-up time and memory do not pay for a feature that is off). Tracing is
 * process-wide, as the OpenTelemetry API's global provider is.
 */
export async function startTracing(
  config: TracingConfig | undefined,
  options: StartTracingOptions,
): Promise<Tracing | undefined> {
  const env = options.env ?? process.env;
  if (!tracingWanted(config, env)) return undefined;
  // One SDK per process (the API's provider is global): a second sidecar in the same
  // process shares it, and the last one to shut down stops it.
  if (shared !== undefined) {
    const running = shared;
    running.users++;
    return handleOf(running);
  }
  const [{ registerOtlpTracing }, loaded] = await Promise.all([
    import('./otlp-tracing.js'),
    import('@opentelemetry/api'),
  ]);
  otel = loaded;
  const endpoint = tracesUrlOf(config, env);
  const stop = registerOtlpTracing({
    url: endpoint,
    serviceName: env['OTEL_SERVICE_NAME'] ?? config?.serviceName ?? 'certbound',
    version: options.version,
    // OTEL_TRACES_SAMPLER, when set, is read by the SDK itself.
    ...(env['OTEL_TRACES_SAMPLER'] === undefined ? { sampleRatio: config?.sampleRatio ?? 1 } : {}),
  });
  active = true;
  useTracingApi(loaded);
  options.logger?.info({ endpoint }, 'tracing enabled (OTLP/HTTP)');
  shared = { endpoint, stop, users: 1 };
  return handleOf(shared);
}

interface SharedSdk {
  readonly endpoint: string;
  readonly stop: () => Promise<void>;
  users: number;
}
let shared: SharedSdk | undefined;

function handleOf(sdk: SharedSdk): Tracing {
  let stopping: Promise<void> | undefined;
  return {
    endpoint: sdk.endpoint,
    shutdown() {
      stopping ??= (async () => {
        if (--sdk.users > 0) return;
        if (shared === sdk) shared = undefined;
        active = false;
        useTracingApi(undefined);
        await sdk.stop();
      })();
      return stopping;
    },
  };
}

const tracer = () => api().trace.getTracer('certbound');
// The SERVER span of each inbound call, by its request object (HTTP/1.1 or HTTP/2).
const inboundSpans = new WeakMap<object, Span>();

/**
 * Starts the SERVER span of an inbound call; an incoming W3C `traceparent`/`tracestate` is
 * its parent (W3C Trace Context §3). Call only while {@link tracingActive}.
 */
export function startInboundSpan(
  req: { readonly headers: IncomingHttpHeaders; readonly method?: string | undefined },
  transport: 'http' | 'grpc',
): void {
  const parent = api().propagation.extract(api().ROOT_CONTEXT, req.headers);
  const method = req.method ?? 'GET';
  inboundSpans.set(
    req,
    tracer().startSpan(
      'certbound.inbound',
      {
        kind: api().SpanKind.SERVER,
        attributes: { 'http.request.method': method, 'certbound.transport': transport },
      },
      parent,
    ),
  );
}

/** How an inbound call ended, for its span. */
export interface InboundSpanEnd {
  readonly status: number;
  readonly grpcStatus?: number | undefined;
  readonly code: ErrorCode | undefined;
  /** The normalised path the policy judged (never the query). */
  readonly path: string | undefined;
  readonly clientId?: string | undefined;
}

/**
 * Ends the span of `req` with its outcome (status, error code, path, client id — never the
 * token) and returns its trace id; undefined when `req` has no span.
 */
export function endInboundSpan(req: object, end: InboundSpanEnd): string | undefined {
  const span = inboundSpans.get(req);
  if (span === undefined) return undefined;
  inboundSpans.delete(req);
  span.setAttributes({
    'http.response.status_code': end.status,
    ...(end.grpcStatus !== undefined ? { 'rpc.grpc.status_code': end.grpcStatus } : {}),
    ...(end.path !== undefined ? { 'url.path': end.path } : {}),
    ...(end.code !== undefined ? { 'certbound.error.code': end.code } : {}),
    ...(end.clientId !== undefined ? { 'certbound.client_id': end.clientId } : {}),
  });
  // OpenTelemetry HTTP semantic conventions: a server span is an error for 5xx only.
  if (end.status >= 500) span.setStatus({ code: api().SpanStatusCode.ERROR });
  span.end();
  return span.spanContext().traceId;
}

/** A verification span (child of the inbound span); end it with {@link endVerifySpan}. */
export function startVerifySpan(req: object): Span | undefined {
  const parent = inboundSpans.get(req);
  if (parent === undefined) return undefined;
  return tracer().startSpan(
    'certbound.verify',
    { kind: api().SpanKind.INTERNAL },
    api().trace.setSpan(api().ROOT_CONTEXT, parent),
  );
}

/** Ends a verification span with `certbound.verify.result` and the refusal's code. */
export function endVerifySpan(span: Span | undefined, code: string | undefined): void {
  if (span === undefined) return;
  span.setAttribute('certbound.verify.result', code === undefined ? 'ok' : 'rejected');
  if (code !== undefined) span.setAttribute('certbound.error.code', code);
  span.end();
}

/**
 * Replaces `traceparent`/`tracestate` in the headers sent to the app with the inbound span's
 * context, so the app's span is its child. No-op for a request without a span.
 */
export function injectInboundContext(req: object, headers: OutgoingHttpHeaders): void {
  const span = inboundSpans.get(req);
  if (span !== undefined) injectSpan(span, headers);
}

function injectSpan(span: Span, headers: OutgoingHttpHeaders): void {
  delete headers['traceparent'];
  delete headers['tracestate'];
  api().propagation.inject(api().trace.setSpan(api().ROOT_CONTEXT, span), headers);
}

/**
 * Starts the CLIENT span of an outbound proxied call (parent: the app's `traceparent`) and
 * puts its context into the upstream's headers. Call only while {@link tracingActive}.
 */
export function startOutboundSpan(
  incoming: IncomingHttpHeaders,
  upstream: string,
  method: string,
): { readonly span: Span; inject(headers: OutgoingHttpHeaders): void } {
  const span = tracer().startSpan(
    'certbound.outbound',
    {
      kind: api().SpanKind.CLIENT,
      attributes: { 'http.request.method': method, 'certbound.upstream': upstream },
    },
    api().propagation.extract(api().ROOT_CONTEXT, incoming),
  );
  return { span, inject: (headers) => injectSpan(span, headers) };
}

/** Ends an outbound span with the status and certbound's code (when it answered itself). */
export function endOutboundSpan(span: Span, status: number, code: string | undefined): void {
  span.setAttribute('http.response.status_code', status);
  if (code !== undefined) span.setAttribute('certbound.error.code', code);
  if (status >= 400 || code !== undefined) span.setStatus({ code: api().SpanStatusCode.ERROR });
  span.end();
}
