import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../../src/observability/tracing.js';
import {
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../support/otlp-receiver.js';
import { startMesh, type Mesh } from '../support/reliability-mesh.js';

// Issue 18: one trace across app → sidecar A (outbound, token from the dev AS) → sidecar B
// (inbound, JWKS from the dev AS) → app B, exported to an OTLP/HTTP receiver.

const APP_TRACE = '0af7651916cd43dd8448eb211c80319c';
const APP_SPAN = 'b7ad6b7169203331';

let receiver: OtlpReceiver;
let tracing: Tracing | undefined;
let mesh: Mesh;

function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  tracing = await startTracing(undefined, {
    version: 'test',
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url },
  });
  mesh = await startMesh();
});

afterAll(async () => {
  await mesh?.close();
  await tracing?.shutdown();
  await receiver?.close();
});

const one = (spans: readonly ReceivedSpan[], name: string, traceId?: string): ReceivedSpan => {
  const found = spans.filter(
    (s) => s.name === name && (traceId === undefined || s.traceId === traceId),
  );
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};

describe('tracing across the mesh', () => {
  it('links app → outbound → inbound → verify in one trace; AS and JWKS calls have their own client spans', async () => {
    expect(tracing).toBeDefined();
    const before = mesh.appB.seen.length;
    const status = await get(`${mesh.outboundA}/payments/traced`, {
      traceparent: `00-${APP_TRACE}-${APP_SPAN}-01`,
    });
    expect(status).toBe(200);
    // Shutdown exports everything buffered: no timer to wait for.
    await mesh.close();
    await tracing!.shutdown();

    const spans = receiver.spans;
    const outbound = one(spans, 'certbound.outbound', APP_TRACE);
    const inbound = one(spans, 'certbound.inbound', APP_TRACE);
    const verify = one(spans, 'certbound.verify', APP_TRACE);
    expect(outbound).toMatchObject({ kind: 3, parentSpanId: APP_SPAN });
    expect(outbound.attributes).toMatchObject({
      'certbound.upstream': 'payments',
      'http.response.status_code': 200,
    });
    expect(inbound).toMatchObject({ kind: 2, parentSpanId: outbound.spanId });
    expect(verify).toMatchObject({ kind: 1, parentSpanId: inbound.spanId });
    const seen = mesh.appB.seen[before]!;
    expect(seen.headers['traceparent']).toBe(`00-${APP_TRACE}-${inbound.spanId}-01`);

    const token = spans.filter((s) => s.name === 'certbound.token_request');
    expect(token.length).toBeGreaterThanOrEqual(1);
    expect(token.every((s) => s.kind === 3)).toBe(true);
    const jwks = spans.filter((s) => s.name === 'certbound.jwks_fetch');
    expect(jwks.length).toBeGreaterThanOrEqual(1);
    expect(jwks[0]!.attributes['url.full']).toMatch(/^https?:\/\/127\.0\.0\.1:\d+\//);
    // Never a token in what is exported.
    expect(JSON.stringify(spans)).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/);
  });
});
