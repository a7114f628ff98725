import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import {
  keepAliveLoops,
  openHttp1Connection,
  type Http1Connection,
} from '../support/http1-connection.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';

// Issue 12 item 4: on drain, idle HTTP/1.1 keep-alive connections were closed at once while
// clients were already sending their next request on them (6–21 resets within 15 ms of
// SIGTERM with 32 connections). Every request the server receives must get a response.

const CONNECTIONS = 32;
/** Requests each connection completes before the drain starts. */
const WARM_UP = 3;

let pki: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let token: string;
const sidecars: Sidecar[] = [];
const connections: Http1Connection[] = [];

beforeAll(async () => {
  [pki, issuer, app, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  token = await issuer.sign(pki.workloads['orders']!.thumbprint);
});

afterEach(async () => {
  for (const c of connections.splice(0)) c.destroy();
  await Promise.all(sidecars.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await app?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

async function startInbound(limits: Record<string, unknown> = {}): Promise<Sidecar> {
  const payments = pki.workloads['payments']!;
  const jwksFile = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  const config = parseConfig(
    {
      logLevel: 'silent',
      // Long enough that the grace never decides the outcome: connections must close on
      // their own (after a `connection: close` response, or idle for keepAliveTimeout).
      shutdownGrace: '50s',
      identity: {
        certPath: payments.paths.cert,
        keyPath: payments.paths.key,
        bundlePath: payments.paths.ca,
      },
      inbound: { host: '127.0.0.1', port: 0, app: { url: app.url }, limits },
      verify: { issuer: issuer.issuer, audience: issuer.audience, jwksFile },
    },
    {},
  );
  const sidecar = await startSidecar(config, { logger: silentLogger(), processMetrics: false });
  sidecars.push(sidecar);
  return sidecar;
}

async function connectTo(sidecar: Sidecar): Promise<Http1Connection> {
  const orders = pki.workloads['orders']!;
  const conn = await openHttp1Connection(sidecar.inbound!.port, {
    ca: orders.bundlePem,
    cert: orders.certPem,
    key: orders.keyPem,
  });
  connections.push(conn);
  return conn;
}

const requestHead = (n: number): string =>
  `GET /loop/${n} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\n\r\n`;

describe('drain with HTTP/1.1 keep-alive connections (issue 12 item 4)', () => {
  it('answers a request sent on an idle keep-alive connection after the drain started, with connection: close', async () => {
    const sidecar = await startInbound();
    const conn = await connectTo(sidecar);
    const first = await conn.request(requestHead(1));
    expect(first.ok && first.response.headers['connection']).toBe('keep-alive');

    // close() starts the drain synchronously; the connection is idle at this moment.
    const closing = sidecar.close();
    const late = await conn.request(requestHead(2));

    expect(late).toMatchObject({ ok: true, response: { status: 200 } });
    expect(late.ok && late.response.headers['connection']).toBe('close');
    await conn.closed;
    await closing;
  });

  it('half-closes connections that stay idle for keepAliveTimeout during the drain (FIN, no reset)', async () => {
    const sidecar = await startInbound({ keepAliveTimeout: '300ms' });
    const used = await connectTo(sidecar);
    expect(await used.request(requestHead(1))).toMatchObject({ ok: true });
    const fresh = await connectTo(sidecar);
    const ends = [used, fresh].map(
      (c) =>
        new Promise<string>((resolve) => {
          c.socket.once('end', () => resolve('FIN'));
          c.socket.once('error', (err: Error & { code?: string }) => resolve(err.code ?? 'error'));
        }),
    );

    await sidecar.close();

    expect(await Promise.all(ends)).toEqual(['FIN', 'FIN']);
  });

  it(`${CONNECTIONS} connections in a tight request loop: no request the server received goes unanswered`, async () => {
    const sidecar = await startInbound();
    const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectTo(sidecar)));
    let closing: Promise<void> | undefined;
    const { failures, answered, announcedClose } = await keepAliveLoops(conns, requestHead, {
      warmUp: WARM_UP,
      onWarm: () => {
        closing = sidecar.close();
      },
    });
    await Promise.all(conns.map((c) => c.closed));
    await closing;

    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThanOrEqual(CONNECTIONS * WARM_UP);
    // The tight loops never idle for keepAliveTimeout: every connection was closed by a
    // response that announced it.
    expect(announcedClose).toBe(CONNECTIONS);
  });
});
