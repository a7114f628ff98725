import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  boundTokenServerInterceptor,
  serverCredentialsFrom,
  channelCredentialsFrom,
} from '../../src/grpc/index.js';
import { sessionOf } from '../../src/grpc/call-session.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createInboundRecorder } from '../../src/observability/inbound-recorder.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestPki, materialOf, type TestPki } from '../support/pki.js';
import {
  AUDIENCE,
  ISSUER,
  createTokenMinter,
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoServer,
  type TokenMinter,
} from '../support/grpc-echo.js';

const require = createRequire(import.meta.url);
const GRPC_JS_VERSION = (
  JSON.parse(readFileSync(require.resolve('@grpc/grpc-js/package.json'), 'utf8')) as {
    version: string;
  }
).version;

let pki: TestPki;
let minter: TokenMinter;
let verifier: Verifier;
let server: EchoServer;
const sessions: Array<object | undefined> = [];
const logs = captureLogs();
const lines = logs.lines;
const metrics = createMetrics({ processMetrics: false });
const sources: StaticX509Source[] = [];

beforeAll(async () => {
  pki = await createTestPki(['orders', 'payments']);
  minter = await createTokenMinter();
  verifier = createVerifier({ jwks: { keys: minter.jwks }, issuer: ISSUER, audience: AUDIENCE });
  const recorder = createInboundRecorder({ logger: logs.logger, metrics });
  const probe: ServerInterceptor = (_method, call) => {
    sessions.push(sessionOf(call));
    return new ServerInterceptingCall(call);
  };
  const payments = StaticX509Source.create(materialOf(pki.workloads['payments']!));
  sources.push(payments);
  server = await startEchoServer({
    credentials: serverCredentialsFrom(payments),
    interceptors: [probe, boundTokenServerInterceptor(verifier, { recorder })],
  });
});

afterAll(async () => {
  await server?.close();
  await verifier?.close();
  for (const s of sources) await s.close();
  await pki?.cleanup();
});

describe(`grpc-js ${GRPC_JS_VERSION} internals certbound relies on (fails when an upgrade changes them)`, () => {
  it('sessionOf(call) finds the HTTP/2 session: the same for calls on one channel, another for another channel', async () => {
    const orders = StaticX509Source.create(materialOf(pki.workloads['orders']!));
    sources.push(orders);
    const token = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
    const md = () => metadataOf({ authorization: `Bearer ${token}` });
    const a = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(orders));
    const b = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(orders));
    try {
      expect((await unary(a, { message: '1' }, md())).ok).toBe(true);
      expect((await unary(a, { message: '2' }, md())).ok).toBe(true);
      expect((await unary(b, { message: '3' }, md())).ok).toBe(true);
    } finally {
      a.close();
      b.close();
    }
    expect(sessions).toHaveLength(3);
    for (const s of sessions) expect(typeof s).toBe('object');
    expect(sessions[0]).toBe(sessions[1]);
    expect(sessions[2]).not.toBe(sessions[0]);
  });
});

describe('boundTokenServerInterceptor with a recorder: the library path counts and logs like the sidecar', () => {
  it('a served call is ok in certbound_inbound_requests_total and in the access log; a refusal carries its code', async () => {
    const orders = StaticX509Source.create(materialOf(pki.workloads['orders']!));
    sources.push(orders);
    const client = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(orders));
    const token = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
    const before = lines.length;
    try {
      expect(
        (await unary(client, { message: 'x' }, metadataOf({ authorization: `Bearer ${token}` })))
          .ok,
      ).toBe(true);
      expect((await unary(client, { message: 'y' }, metadataOf({}))).ok).toBe(false);
    } finally {
      client.close();
    }
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/certbound_inbound_requests_total\{result="ok",code="none"\} [1-9]/);
    expect(text).toContain(
      'certbound_inbound_requests_total{result="rejected",code="ERR_TOKEN_MISSING"} 1',
    );
    const mine = lines.slice(before);
    expect(mine).toHaveLength(2);
    expect(mine[0]).toMatchObject({
      transport: 'grpc',
      path: '/demo.v1.Echo/Unary',
      grpcStatus: 0,
      clientId: 'orders',
      spiffeId: pki.workloads['orders']!.spiffeId,
    });
    expect(mine[1]).toMatchObject({
      transport: 'grpc',
      code: 'ERR_TOKEN_MISSING',
      grpcStatus: 16,
      spiffeId: pki.workloads['orders']!.spiffeId,
    });
  });
});
