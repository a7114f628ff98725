import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

/** Settings of {@link registerOtlpTracing}. */
export interface OtlpTracingSettings {
  /** OTLP/HTTP traces URL. */
  readonly url: string;
  readonly serviceName: string;
  readonly version: string;
  /** Share of new traces sampled (parent-based: a caller's decision is followed). */
  readonly sampleRatio?: number;
}

/**
 * Registers the OpenTelemetry SDK globally: batch OTLP/HTTP export (JSON), the W3C trace
 * context propagator and async context. Loaded only by `startTracing` (dynamic import).
 *
 * @returns a function that flushes the spans and unregisters everything
 */
export function registerOtlpTracing(settings: OtlpTracingSettings): () => Promise<void> {
  const exporter = new OTLPTraceExporter({ url: settings.url });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: settings.serviceName,
      [ATTR_SERVICE_VERSION]: settings.version,
    }),
    ...(settings.sampleRatio !== undefined
      ? {
          sampler: new ParentBasedSampler({
            root: new TraceIdRatioBasedSampler(settings.sampleRatio),
          }),
        }
      : {}),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  };
}
