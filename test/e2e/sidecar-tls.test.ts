import { execFile } from 'node:child_process';
import type { ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki, type TestWorkload } from '../support/pki.js';
import { httpOverTls, rsaCert, tlsHandshake } from '../support/reliability-attacks.js';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

// Issue 11 §5: the built CLI's inbound listener, over real sockets, against TLS clients that
// offer one suite each. RFC 9325 §4.2 (BCP 195): TLS 1.2 only with ECDHE + AES-GCM/ChaCha20.

let pki: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
/** Default TLS settings, the usual P-256 workload certificate. */
let ecSidecar: SidecarProcess;
/** Default TLS settings, an RSA-2048 server certificate (static-RSA suites are possible). */
let rsaSidecar: SidecarProcess;
/** `inbound.tls`: TLS 1.3 only, one suite, one group. */
let strictSidecar: SidecarProcess;
let orders: TestWorkload;

const portOf = (s: SidecarProcess) => Number(s.addresses.inbound!.split(':')[1]);

beforeAll(async () => {
  [pki, issuer, app, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  orders = pki.workloads['orders']!;
  const payments = pki.workloads['payments']!;
  const rsa = await rsaCert(pki.ca, 'payments');
  const rsaCertPath = await files.write('rsa-cert.pem', rsa.certPem);
  const rsaKeyPath = await files.write('rsa-key.pem', rsa.keyPem);
  const jwksFile = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  const config = (name: string, certPath: string, keyPath: string, tls = '') =>
    files.write(
      `${name}.yaml`,
      `identity: { certPath: ${certPath}, keyPath: ${keyPath}, bundlePath: ${payments.paths.ca} }
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${app.url}" }
${tls}
verify: { issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksFile: ${jwksFile} }
`,
    );
  [ecSidecar, rsaSidecar, strictSidecar] = await Promise.all([
    config('ec', payments.paths.cert, payments.paths.key).then((c) => startSidecarProcess(c)),
    config('rsa', rsaCertPath, rsaKeyPath).then((c) => startSidecarProcess(c)),
    config(
      'strict',
      payments.paths.cert,
      payments.paths.key,
      '  tls: { minVersion: TLSv1.3, ciphers: [TLS_AES_256_GCM_SHA384], ecdhCurves: [P-256] }',
    ).then((c) => startSidecarProcess(c)),
  ]);
});

afterAll(async () => {
  await Promise.all([ecSidecar?.stop(), rsaSidecar?.stop(), strictSidecar?.stop()]);
  await app?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

/** A TLS client presenting orders' certificate, trusting the bundle, with `tls` on top. */
function client(tls: ConnectionOptions): ConnectionOptions {
  return { cert: orders.certPem, key: orders.keyPem, ca: orders.bundlePem, ...tls };
}

const tls12 = (ciphers: string): ConnectionOptions => ({
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.2',
  ciphers,
});

/** `openssl s_client` (an independent TLS stack): exit code 0 iff the handshake succeeded. */
function opensslHandshake(port: number, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-servername',
        'localhost',
        '-CAfile',
        orders.paths.ca,
        '-cert',
        orders.paths.cert,
        '-key',
        orders.paths.key,
        ...args,
      ],
      { timeout: 10_000 },
      (err) => resolve(err === null ? 0 : typeof err.code === 'number' ? err.code : 1),
    );
    child.stdin?.end('Q\n');
  });
}

describe('certbound run: inbound TLS suites (RFC 9325) with the built CLI', () => {
  const refusedOnEc: Array<[string, string]> = [
    ['TLS 1.2 ECDHE-ECDSA with AES-CBC (SHA-1 MAC)', 'ECDHE-ECDSA-AES128-SHA'],
    ['TLS 1.2 ECDHE-ECDSA with AES-CBC (SHA-384 MAC)', 'ECDHE-ECDSA-AES256-SHA384'],
  ];
  it.each(refusedOnEc)('refuses a client offering only %s', async (_name, suite) => {
    expect(await tlsHandshake(portOf(ecSidecar), client(tls12(suite)))).toMatch(/^refused: /);
  });

  const refusedOnRsa: Array<[string, string]> = [
    ['TLS 1.2 static-RSA key exchange with AES-GCM', 'AES128-GCM-SHA256'],
    ['TLS 1.2 static-RSA key exchange with AES-CBC', 'AES256-SHA256'],
    ['TLS 1.2 ECDHE-RSA with AES-CBC', 'ECDHE-RSA-AES128-SHA'],
  ];
  it.each(refusedOnRsa)(
    'refuses a client offering only %s (RSA server certificate)',
    async (_name, suite) => {
      expect(await tlsHandshake(portOf(rsaSidecar), client(tls12(suite)))).toMatch(/^refused: /);
    },
  );

  it('openssl s_client -tls1_2 with only CBC suites is refused; with ECDHE-ECDSA-AES128-GCM it connects', async () => {
    const port = portOf(ecSidecar);
    expect(
      await opensslHandshake(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA:AES128-SHA']),
    ).not.toBe(0);
    expect(
      await opensslHandshake(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']),
    ).toBe(0);
  });

  const accepted: Array<[string, SidecarChoice, ConnectionOptions, string]> = [
    [
      'TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256',
      'ec',
      tls12('ECDHE-ECDSA-AES128-GCM-SHA256'),
      'TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256',
    ],
    [
      'TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305',
      'ec',
      tls12('ECDHE-ECDSA-CHACHA20-POLY1305'),
      'TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305',
    ],
    [
      'TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384',
      'rsa',
      tls12('ECDHE-RSA-AES256-GCM-SHA384'),
      'TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384',
    ],
    [
      'TLS 1.3 TLS_AES_128_GCM_SHA256',
      'ec',
      { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' },
      'TLSv1.3 TLS_AES_128_GCM_SHA256',
    ],
    [
      'TLS 1.3 TLS_CHACHA20_POLY1305_SHA256',
      'rsa',
      { minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' },
      'TLSv1.3 TLS_CHACHA20_POLY1305_SHA256',
    ],
  ];
  it.each(accepted)(
    'a client offering %s completes the handshake and a bound token reaches the app',
    async (_name, which, tls, negotiated) => {
      const port = portOf(which === 'ec' ? ecSidecar : rsaSidecar);
      expect(await tlsHandshake(port, client(tls))).toBe(negotiated);
      const token = await issuer.sign(thumbprintOf(orders.certPem));
      expect(await httpOverTls(port, client(tls), `Bearer ${token}`)).toBe('HTTP/1.1 200 OK');
    },
  );

  it('inbound.tls: minVersion TLSv1.3 refuses TLS 1.2 even with an RFC 9325 suite', async () => {
    const port = portOf(strictSidecar);
    expect(await tlsHandshake(port, client(tls12('ECDHE-ECDSA-AES128-GCM-SHA256')))).toMatch(
      /^refused: /,
    );
  });

  it('inbound.tls: ciphers and ecdhCurves limit TLS 1.3 suites and groups', async () => {
    const port = portOf(strictSidecar);
    const tls13 = { minVersion: 'TLSv1.3' as const };
    expect(
      await tlsHandshake(port, client({ ...tls13, ciphers: 'TLS_AES_128_GCM_SHA256' })),
    ).toMatch(/^refused: /);
    expect(await tlsHandshake(port, client({ ...tls13, ecdhCurve: 'X25519' }))).toMatch(
      /^refused: /,
    );
    expect(await tlsHandshake(port, client({ ...tls13, ecdhCurve: 'P-256' }))).toBe(
      'TLSv1.3 TLS_AES_256_GCM_SHA384',
    );
  });
});

type SidecarChoice = 'ec' | 'rsa';
