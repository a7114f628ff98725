import { ServerCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { channelCredentialsFrom } from '../../src/grpc/index.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import {
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoServer,
} from '../support/grpc-echo.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestPki, materialOf, type TestPki } from '../support/pki.js';

let pki: TestPki;
let issuer: TestIssuer;
let grpcApp: EchoServer;
let httpApp: RecordingApp;
let sidecar: Sidecar;
const logs = captureLogs();
const lines = logs.lines;
const sources: StaticX509Source[] = [];

beforeAll(async () => {
  let files: Awaited<ReturnType<typeof tempDir>>;
  [pki, issuer, httpApp, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  grpcApp = await startEchoServer({ credentials: ServerCredentials.createInsecure() });
  const payments = pki.workloads['payments']!;
  sidecar = await startSidecar(
    parseConfig(
      {
        identity: {
          certPath: payments.paths.cert,
          keyPath: payments.paths.key,
          bundlePath: payments.paths.ca,
        },
        inbound: {
          host: '127.0.0.1',
          port: 0,
          app: { url: httpApp.url, grpcUrl: `http://127.0.0.1:${grpcApp.port}` },
        },
        verify: {
          issuer: issuer.issuer,
          audience: issuer.audience,
          jwksFile: await files.write('jwks.json', JSON.stringify({ keys: [issuer.publicJwk] })),
        },
      },
      {},
    ),
    { logger: logs.logger, processMetrics: false },
  );
});

afterAll(async () => {
  await sidecar?.close();
  await grpcApp?.close();
  await httpApp?.close();
  for (const s of sources) await s.close();
  await pki?.cleanup();
});

describe('gRPC through the sidecar goes through the one recorder (regression: never counted as ok nor logged)', () => {
  it('a relayed call is counted ok and access-logged with the app status; a refusal with its code', async () => {
    const orders = StaticX509Source.create(materialOf(pki.workloads['orders']!));
    sources.push(orders);
    const client = echoClient(`127.0.0.1:${sidecar.inbound!.port}`, channelCredentialsFrom(orders));
    const token = await issuer.sign(pki.workloads['orders']!.thumbprint);
    try {
      const ok = await unary(
        client,
        { message: 'hi' },
        metadataOf({ authorization: `Bearer ${token}` }),
      );
      expect(ok.ok).toBe(true);
      const refused = await unary(client, { message: 'no' }, metadataOf({}));
      expect(refused.ok).toBe(false);
    } finally {
      client.close();
    }
    const text = await sidecar.metrics.registry.metrics();
    expect(text).toContain('certbound_inbound_requests_total{result="ok",code="none"} 1');
    expect(text).toContain(
      'certbound_inbound_requests_total{result="rejected",code="ERR_TOKEN_MISSING"} 1',
    );
    const access = lines.filter((l) => l['msg'] === 'inbound request');
    expect(access).toHaveLength(2);
    expect(access[0]).toMatchObject({
      transport: 'grpc',
      method: 'POST',
      path: '/demo.v1.Echo/Unary',
      grpcStatus: 0,
      clientId: expect.any(String) as unknown,
      spiffeId: pki.workloads['orders']!.spiffeId,
    });
    expect(access[1]).toMatchObject({
      transport: 'grpc',
      code: 'ERR_TOKEN_MISSING',
      grpcStatus: 16,
    });
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});
