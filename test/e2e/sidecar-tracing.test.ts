import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import {
  mtlsAgent,
  send,
  startRecordingApp,
  tempDir,
  type RecordingApp,
} from '../support/http-fixtures.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import {
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../support/otlp-receiver.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import {
  startSidecarProcess,
  waitForLogLine,
  type SidecarProcess,
} from '../support/sidecar-process.js';

// Issue 18: OpenTelemetry through the built CLI, configured by the standard OTEL_* variables,
// exported to an OTLP/HTTP receiver in the test.

let pki: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let receiver: OtlpReceiver;
let sidecar: SidecarProcess;
let agent: Agent;
let base: string;

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

beforeAll(async () => {
  [pki, issuer, app, files, receiver] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
    startOtlpReceiver(),
  ]);
  const payments = pki.workloads['payments']!;
  const jwksFile = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  const config = await files.write(
    'payments.yaml',
    `identity: { certPath: ${payments.paths.cert}, keyPath: ${payments.paths.key}, bundlePath: ${payments.paths.ca} }
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${app.url}" }
verify: { issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksFile: ${jwksFile} }
`,
  );
  sidecar = await startSidecarProcess(config, 20_000, [], {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: 'payments-sidecar',
    // Export promptly: the test waits for the spans, not for a timer.
    OTEL_BSP_SCHEDULE_DELAY: '50',
  });
  const orders = pki.workloads['orders']!;
  agent = mtlsAgent(orders, orders.bundlePem);
  base = `https://localhost:${sidecar.addresses.inbound!.split(':')[1]}`;
});

afterAll(async () => {
  await sidecar?.stop();
  await agent?.close();
  await Promise.all([app?.close(), receiver?.close()]);
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

const named = (spans: readonly ReceivedSpan[], name: string, traceId: string) =>
  spans.filter((s) => s.name === name && s.traceId === traceId);

const accessLogOf = (path: string) =>
  waitForLogLine(sidecar, (l) => l['msg'] === 'inbound request' && l['path'] === path);

describe('certbound run with OTEL_TRACES_EXPORTER=otlp', () => {
  it('exports an inbound span under the caller traceparent, verification as its child, and hands the app a traceparent naming the sidecar span', async () => {
    const token = await issuer.sign(thumbprintOf(pki.workloads['orders']!.certPem));
    const res = await send(agent, `${base}/traced`, {
      headers: {
        authorization: `Bearer ${token}`,
        traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
        tracestate: 'vendor=opaque',
      },
    });
    expect(res.status).toBe(200);
    await receiver.waitFor(
      (spans) =>
        named(spans, 'certbound.inbound', CALLER_TRACE).length === 1 &&
        named(spans, 'certbound.verify', CALLER_TRACE).length === 1,
    );
    const inbound = named(receiver.spans, 'certbound.inbound', CALLER_TRACE)[0]!;
    const verify = named(receiver.spans, 'certbound.verify', CALLER_TRACE)[0]!;
    expect(inbound).toMatchObject({
      kind: 2,
      parentSpanId: CALLER_SPAN,
      service: 'payments-sidecar',
    });
    expect(inbound.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'url.path': '/traced',
      'certbound.transport': 'http',
      'certbound.client_id': 'orders',
    });
    expect(verify).toMatchObject({ kind: 1, parentSpanId: inbound.spanId });
    expect(verify.attributes['certbound.verify.result']).toBe('ok');

    // W3C Trace Context §3: same trace, our span as the app's parent; tracestate kept.
    const seen = app.seen.find((r) => r.url === '/traced')!;
    expect(seen.headers['traceparent']).toBe(`00-${CALLER_TRACE}-${inbound.spanId}-01`);
    expect(seen.headers['tracestate']).toBe('vendor=opaque');
    expect((await accessLogOf('/traced'))['traceId']).toBe(CALLER_TRACE);
    expect(JSON.stringify(receiver.spans)).not.toContain(token);
  });

  it('a refused call: the verify span carries the result and the error code, never the token', async () => {
    // Bound to another certificate: the binding check refuses it.
    const token = await issuer.sign(thumbprintOf(pki.workloads['payments']!.certPem));
    const trace = 'aa'.repeat(16);
    const res = await send(agent, `${base}/refused`, {
      headers: {
        authorization: `Bearer ${token}`,
        traceparent: `00-${trace}-${'bb'.repeat(8)}-01`,
      },
    });
    expect(res.status).toBe(401);
    await receiver.waitFor(
      (spans) =>
        named(spans, 'certbound.inbound', trace).length === 1 &&
        named(spans, 'certbound.verify', trace).length === 1,
    );
    const inbound = named(receiver.spans, 'certbound.inbound', trace)[0]!;
    const verify = named(receiver.spans, 'certbound.verify', trace)[0]!;
    expect(verify.parentSpanId).toBe(inbound.spanId);
    expect(verify.attributes).toMatchObject({
      'certbound.verify.result': 'rejected',
      'certbound.error.code': 'ERR_BINDING_MISMATCH',
    });
    expect(inbound.attributes).toMatchObject({
      'http.response.status_code': 401,
      'certbound.error.code': 'ERR_BINDING_MISMATCH',
    });
    expect(JSON.stringify(receiver.spans)).not.toContain(token);
  });

  it('a call without traceparent starts a new trace; its id is on the access-log line', async () => {
    const token = await issuer.sign(thumbprintOf(pki.workloads['orders']!.certPem));
    expect(
      (await send(agent, `${base}/fresh`, { headers: { authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(200);
    const seen = app.seen.find((r) => r.url === '/fresh')!;
    const traceparent = /^00-([\da-f]{32})-([\da-f]{16})-01$/.exec(
      String(seen.headers['traceparent']),
    );
    expect(traceparent).not.toBeNull();
    const [, traceId, spanId] = traceparent!;
    await receiver.waitFor((spans) => named(spans, 'certbound.inbound', traceId!).length === 1);
    const inbound = named(receiver.spans, 'certbound.inbound', traceId!)[0]!;
    expect(inbound.spanId).toBe(spanId);
    expect(inbound.parentSpanId ?? '').toBe('');
    expect((await accessLogOf('/fresh'))['traceId']).toBe(traceId);
  });
});
