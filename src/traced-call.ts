import type * as OtelApiModule from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';

type OtelApi = typeof OtelApiModule;

// Set by tracing's start (observability/tracing.ts): with tracing off the OpenTelemetry
// API is never even loaded, and a call is a plain call.
let api: OtelApi | undefined;

/** Makes {@link tracedCall} record spans through `otel` (undefined: stop). */
export function useTracingApi(otel: OtelApi | undefined): void {
  api = otel;
}

/**
 * Runs one call to the authorization server (token, JWKS, introspection) inside a CLIENT
 * span of the global OpenTelemetry tracer; without tracing, just runs it. The span
 * carries the error `code` of a failure, never a token. Shared by `verify/` and `token/`,
 * which may not import `observability/`.
 */
export async function tracedCall<T>(
  name: string,
  attributes: Attributes,
  call: () => Promise<T>,
): Promise<T> {
  const otel = api;
  if (otel === undefined) return call();
  return otel.trace
    .getTracer('certbound')
    .startActiveSpan(name, { kind: otel.SpanKind.CLIENT, attributes }, async (span) => {
      try {
        return await call();
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        if (typeof code === 'string') span.setAttribute('certbound.error.code', code);
        span.setStatus({ code: otel.SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    });
}
