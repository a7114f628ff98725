import { z } from 'zod';

/**
 * `tracing:` of `certbound.yaml`: OpenTelemetry traces over OTLP/HTTP, off by default. The
 * standard `OTEL_*` variables work too (`OTEL_TRACES_EXPORTER=otlp` turns tracing on,
 * `OTEL_SDK_DISABLED=true` off); see `src/observability/tracing.ts`.
 */
export const tracingSchema = z.strictObject({
  enabled: z.boolean().default(false),
  endpoint: z
    .url({
      protocol: /^https?$/,
      error: 'must be an http(s) URL, e.g. http://otel-collector:4318/v1/traces',
    })
    .optional(),
  serviceName: z.string().min(1).optional(),
  sampleRatio: z.number().min(0).max(1).default(1),
});

/** The validated `tracing:` section. */
export type TracingConfig = z.infer<typeof tracingSchema>;
