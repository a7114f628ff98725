import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ConnectionOptions } from 'node:tls';
import { serverCredentialsFrom } from '../../src/grpc/index.js';
import {
  startInboundListener,
  type InboundListener,
} from '../../src/sidecar/inbound/inbound-listener.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startEchoServer, type EchoServer } from '../support/grpc-echo.js';
import { createTestPki, materialOf, type TestPki, type TestWorkload } from '../support/pki.js';
import { tlsHandshake } from '../support/reliability-attacks.js';

// Issue 11 §5: RFC 9325 §4.2 suites on every server certbound builds — the sidecar's inbound
// listener and grpc-js servers on serverCredentialsFrom — and still after a rotation (both
// rebuild their context with setSecureContext, which forgets what it is not given).

let pki: TestPki;
let orders: TestWorkload;
const sources: StaticX509Source[] = [];
let grpcDefault: EchoServer;
let grpcStrict: EchoServer;
let grpcSource: StaticX509Source;
let listener: InboundListener;
let listenerSource: StaticX509Source;

beforeAll(async () => {
  pki = await createTestPki(['payments', 'orders']);
  orders = pki.workloads['orders']!;
  const payments = materialOf(pki.workloads['payments']!);
  grpcSource = StaticX509Source.create(payments);
  listenerSource = StaticX509Source.create(payments);
  const strictSource = StaticX509Source.create(payments);
  sources.push(grpcSource, listenerSource, strictSource);
  [grpcDefault, grpcStrict, listener] = await Promise.all([
    startEchoServer({ credentials: serverCredentialsFrom(grpcSource) }),
    startEchoServer({
      credentials: serverCredentialsFrom(strictSource, { tls: { minVersion: 'TLSv1.3' } }),
    }),
    startInboundListener({
      source: listenerSource,
      proxy: { handleRequest: (_req, res) => res.end(), handleUpgrade: (_req, s) => s.destroy() },
      logger: silentLogger(),
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([grpcDefault?.close(), grpcStrict?.close(), listener?.drain(0)]);
  for (const s of sources) await s.close();
  await pki?.cleanup();
});

function client(tls: ConnectionOptions): ConnectionOptions {
  return {
    cert: orders.certPem,
    key: orders.keyPem,
    ca: orders.bundlePem,
    ALPNProtocols: ['h2'],
    ...tls,
  };
}
const tls12 = (ciphers: string): ConnectionOptions =>
  client({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers });

/** Publishes a fresh certificate for payments and waits until the server presents it. */
async function rotate(source: StaticX509Source, port: number): Promise<void> {
  const next = await pki.issue('payments');
  const identity = source.set(materialOf(next));
  for (let i = 0; i < 200; i++) {
    const served = await new Promise<string | undefined>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...client({}) });
      socket.once('secureConnect', () => {
        resolve(socket.getPeerX509Certificate()?.fingerprint256);
        socket.destroy();
      });
      socket.once('error', () => resolve(undefined));
    });
    if (served !== undefined && served === identity.leaf.fingerprint256) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('the server never presented the rotated certificate');
}

describe('RFC 9325 TLS 1.2 suites on every certbound server', () => {
  const servers: Array<[string, () => number, () => StaticX509Source]> = [
    ['grpc-js serverCredentialsFrom', () => grpcDefault.port, () => grpcSource],
    ['inbound listener', () => listener.port, () => listenerSource],
  ];

  it.each(servers)(
    '%s refuses a TLS 1.2 client offering only CBC suites, before and after a rotation',
    async (_name, portOf, sourceOf) => {
      const cbc = tls12('ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384');
      expect(await tlsHandshake(portOf(), cbc)).toMatch(/^refused: /);
      expect(await tlsHandshake(portOf(), tls12('ECDHE-ECDSA-AES128-GCM-SHA256'))).toBe(
        'TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256',
      );
      await rotate(sourceOf(), portOf());
      expect(await tlsHandshake(portOf(), cbc)).toMatch(/^refused: /);
      expect(await tlsHandshake(portOf(), client({ minVersion: 'TLSv1.3' }))).toMatch(
        /^TLSv1\.3 TLS_/,
      );
    },
  );

  it('serverCredentialsFrom(source, { tls }) applies the settings: TLSv1.3 minimum', async () => {
    expect(await tlsHandshake(grpcStrict.port, tls12('ECDHE-ECDSA-AES128-GCM-SHA256'))).toMatch(
      /^refused: /,
    );
    expect(await tlsHandshake(grpcStrict.port, client({ minVersion: 'TLSv1.3' }))).toMatch(
      /^TLSv1\.3 TLS_/,
    );
  });
});
