import { SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';

/**
 * Runs one call to the authorization server (token, JWKS, introspection) inside a CLIENT
 * span of the global OpenTelemetry tracer. With tracing off no SDK is registered and the
 * API's no-op tracer makes this a plain call. The span carries the error `code` of a
 * failure, never a token. Shared by `verify/` and `token/`, which may not import
 * `observability/`.
 */
export async function tracedCall<T>(
  name: string,
  attributes: Attributes,
  call: () => Promise<T>,
): Promise<T> {
  return trace
    .getTracer('certbound')
    .startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      try {
        return await call();
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        if (typeof code === 'string') span.setAttribute('certbound.error.code', code);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    });
}
