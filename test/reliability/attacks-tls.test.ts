import { credentials as grpcCredentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { parseConfig } from '../../src/config/load-config.js';
import { boundTokenServerInterceptor, serverCredentialsFrom } from '../../src/grpc/index.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import { echoClient, startEchoServer, unary, type EchoServer } from '../support/grpc-echo.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import {
  expiredCert,
  httpOverTls,
  refusedAtTls,
  serverOnlyCert,
  type ClientMaterial,
} from '../support/reliability-attacks.js';

let pki: TestPki;
let foreign: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let sidecar: Sidecar;
let verifier: Verifier;
let grpcServer: EchoServer;
let grpcSource: StaticX509Source;
let expired: ClientMaterial;
let noClientAuth: ClientMaterial;

beforeAll(async () => {
  [pki, foreign, issuer, app, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestPki(['orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  const payments = pki.workloads['payments']!;
  const jwksFile = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  sidecar = await startSidecar(
    parseConfig(
      {
        logLevel: 'silent',
        identity: {
          certPath: payments.paths.cert,
          keyPath: payments.paths.key,
          bundlePath: payments.paths.ca,
        },
        inbound: { host: '127.0.0.1', port: 0, app: { url: app.url } },
        verify: { issuer: issuer.issuer, audience: issuer.audience, jwksFile },
      },
      {},
    ),
    { logger: silentLogger(), processMetrics: false },
  );
  verifier = createVerifier({
    jwks: { keys: issuer.jwks() },
    issuer: issuer.issuer,
    audience: issuer.audience,
  });
  grpcSource = StaticX509Source.create({
    certPem: payments.certPem,
    keyPem: payments.keyPem,
    bundlePem: payments.bundlePem,
  });
  grpcServer = await startEchoServer({
    credentials: serverCredentialsFrom(grpcSource),
    interceptors: [boundTokenServerInterceptor(verifier)],
  });
  expired = await expiredCert(pki.ca, 'orders');
  noClientAuth = await serverOnlyCert(pki.ca, 'orders');
});

afterAll(async () => {
  await sidecar?.close();
  await grpcServer?.close();
  await grpcSource?.close();
  await verifier?.close();
  await app?.close();
  await Promise.all([pki?.cleanup(), foreign?.cleanup(), files?.cleanup()]);
});

/** The same client identity as orders, with a bound token for whichever cert is presented. */
async function bearerFor(certPem: string): Promise<string> {
  return `Bearer ${await issuer.sign(thumbprintOf(certPem))}`;
}

const orders = (): ClientMaterial => pki.workloads['orders']!;
const tlsOf = (m: ClientMaterial | undefined, extra: Record<string, unknown> = {}) => ({
  ca: pki.workloads['orders']!.bundlePem,
  ...(m !== undefined ? { cert: m.certPem, key: m.keyPem } : {}),
  ...extra,
});
// OpenSSL 3 clients refuse TLS < 1.2 at the default security level; lower it so the attempt is made.
const LEGACY = { ciphers: 'DEFAULT:@SECLEVEL=0' };

describe('inbound listener: attacks refused at the TLS handshake (HTTP/1.1 and HTTP/2 share it)', () => {
  it('control: TLS 1.2 and TLS 1.3 with a valid client certificate and bound token reach the app', async () => {
    const auth = await bearerFor(orders().certPem);
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const outcome = await httpOverTls(
        sidecar.inbound!.port,
        tlsOf(orders(), { minVersion: version, maxVersion: version }),
        auth,
      );
      expect(outcome).toBe('HTTP/1.1 200 OK');
    }
  });

  it.each([['TLSv1'], ['TLSv1.1']] as const)(
    'refuses a %s handshake (minimum is TLS 1.2)',
    async (version) => {
      const before = app.seen.length;
      const outcome = await httpOverTls(
        sidecar.inbound!.port,
        tlsOf(orders(), { minVersion: version, maxVersion: version, ...LEGACY }),
        await bearerFor(orders().certPem),
      );
      // The server answers with a protocol_version alert (RFC 8446 §6.2): it refused, not the client.
      expect(outcome).toBe('refused: ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
      expect(app.seen.length).toBe(before);
    },
  );

  it('refuses an expired client certificate at the handshake, even with a token bound to it', async () => {
    const before = app.seen.length;
    const outcome = await httpOverTls(
      sidecar.inbound!.port,
      tlsOf(expired),
      await bearerFor(expired.certPem),
    );
    expect(refusedAtTls(outcome), outcome).toBe(true);
    expect(app.seen.length).toBe(before);
  });

  it('refuses a client certificate without the clientAuth extended key usage at the handshake', async () => {
    const before = app.seen.length;
    const outcome = await httpOverTls(
      sidecar.inbound!.port,
      tlsOf(noClientAuth),
      await bearerFor(noClientAuth.certPem),
    );
    expect(refusedAtTls(outcome), outcome).toBe(true);
    expect(app.seen.length).toBe(before);
  });

  it('refuses a client certificate from an untrusted CA, and no certificate at all, at the handshake', async () => {
    const outsider = foreign.workloads['orders']!;
    const before = app.seen.length;
    for (const m of [outsider, undefined]) {
      const outcome = await httpOverTls(
        sidecar.inbound!.port,
        tlsOf(m),
        await bearerFor(outsider.certPem),
      );
      expect(refusedAtTls(outcome), outcome).toBe(true);
    }
    expect(app.seen.length).toBe(before);
  });
});

describe('gRPC server (serverCredentialsFrom): attacks refused at the TLS handshake', () => {
  async function grpcCall(m: ClientMaterial | undefined, token: string): Promise<number> {
    const creds =
      m === undefined
        ? grpcCredentials.createSsl(Buffer.from(pki.workloads['orders']!.bundlePem))
        : grpcCredentials.createSsl(
            Buffer.from(pki.workloads['orders']!.bundlePem),
            Buffer.from(m.keyPem),
            Buffer.from(m.certPem),
          );
    const client = echoClient(`127.0.0.1:${grpcServer.port}`, creds);
    try {
      const md = new Metadata();
      md.add('authorization', token);
      const out = await unary(client, { message: 'tls' }, md, 5_000);
      return out.ok ? status.OK : out.err.code;
    } finally {
      client.close();
    }
  }

  it('control: a valid client certificate with its bound token is served', async () => {
    expect(await grpcCall(orders(), await bearerFor(orders().certPem))).toBe(status.OK);
  });

  it('refuses expired, no-clientAuth, untrusted-CA and missing client certificates with UNAVAILABLE before any handler', async () => {
    const before = grpcServer.seen.length;
    const outsider = foreign.workloads['orders']!;
    const cases: Array<[string, ClientMaterial | undefined]> = [
      ['expired', expired],
      ['no clientAuth EKU', noClientAuth],
      ['untrusted CA', outsider],
      ['no certificate', undefined],
    ];
    const codes: string[] = [];
    for (const [name, m] of cases) {
      const code = await grpcCall(m, await bearerFor((m ?? outsider).certPem));
      codes.push(`${name}: ${code}`);
    }
    expect(codes).toEqual(cases.map(([name]) => `${name}: ${status.UNAVAILABLE}`));
    expect(grpcServer.seen.length).toBe(before);
  });

  it.each([['TLSv1'], ['TLSv1.1']] as const)(
    'the gRPC port refuses a %s handshake',
    async (version) => {
      const outcome = await httpOverTls(
        grpcServer.port,
        tlsOf(orders(), {
          minVersion: version,
          maxVersion: version,
          ALPNProtocols: ['h2'],
          ...LEGACY,
        }),
        undefined,
      );
      expect(outcome).toBe('refused: ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    },
  );
});
