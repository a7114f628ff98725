import { connect as http2Connect, constants, type ClientHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { parseConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import {
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoServer,
} from '../support/grpc-echo.js';
import {
  mtlsAgent,
  send,
  startRecordingApp,
  tempDir,
  type RecordingApp,
} from '../support/http-fixtures.js';
import { openHttp1Connection } from '../support/http1-connection.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { settleOn } from '../support/reliability-handles.js';

// The per-peer / per-connection limits count a request from admission until its response
// closes. A slot that is not given back (an ending nobody listened for) would lock a peer
// out for good; a slot given back while the app still works on the request would let a
// client that resets its streams take every app connection anyway. Every kind of ending is
// checked here: the in-flight count returns to 0, and an aborted request leaves the app.

let pki: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let grpcApp: EchoServer;
let files: Awaited<ReturnType<typeof tempDir>>;
let sidecar: Sidecar;
let quick: Sidecar;
let agent: Agent;
let token: string;
/** Paths of app requests whose connection closed before the app answered (the proxy gave up). */
const abandoned: string[] = [];
const sessions: ClientHttp2Session[] = [];

async function start(appTimeout: string): Promise<Sidecar> {
  const payments = pki.workloads['payments']!;
  const jwksFile = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  return startSidecar(
    parseConfig(
      {
        logLevel: 'silent',
        shutdownGrace: 0,
        identity: {
          certPath: payments.paths.cert,
          keyPath: payments.paths.key,
          bundlePath: payments.paths.ca,
        },
        inbound: {
          host: '127.0.0.1',
          port: 0,
          app: { url: app.url, grpcUrl: `http://127.0.0.1:${grpcApp.port}` },
          limits: { appTimeout, maxConcurrentStreams: 3, maxRequestsPerPeer: 0 },
        },
        verify: { issuer: issuer.issuer, audience: issuer.audience, jwksFile },
      },
      {},
    ),
    { logger: silentLogger(), processMetrics: false },
  );
}

beforeAll(async () => {
  [pki, issuer, app, files, grpcApp] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
    startEchoServer({ credentials: ServerCredentials.createInsecure() }),
  ]);
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    res.once('close', () => {
      if (!res.writableEnded) abandoned.push(req.url ?? '');
    }),
  );
  token = await issuer.sign(pki.workloads['orders']!.thumbprint);
  // The app timeout of `sidecar` is never reached; `quick` times out at once.
  [sidecar, quick] = await Promise.all([start('50s'), start('200ms')]);
  agent = mtlsAgent(pki.workloads['orders'], pki.workloads['orders']!.bundlePem);
});

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await agent?.close();
  await Promise.all([sidecar?.close(), quick?.close()]);
  await grpcApp?.close();
  await app?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

async function inFlight(of: Sidecar = sidecar): Promise<number> {
  const metric = await of.metrics.registry
    .getSingleMetric('certbound_inbound_requests_in_flight')
    ?.get();
  return metric?.values[0]?.value ?? Number.NaN;
}

const settled = (of: Sidecar = sidecar): Promise<number> =>
  settleOn(
    () => inFlight(of),
    (n) => n === 0,
  );

const url = (path: string, of: Sidecar = sidecar): string =>
  `https://localhost:${of.inbound!.port}${path}`;
const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function h2(of: Sidecar = sidecar): Promise<ClientHttp2Session> {
  const w = pki.workloads['orders']!;
  const session = http2Connect(`https://localhost:${of.inbound!.port}`, {
    ca: w.bundlePem,
    cert: w.certPem,
    key: w.keyPem,
  });
  session.on('error', () => undefined);
  sessions.push(session);
  await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
  return session;
}

/** Opens `count` streams to `path` and resolves once the app has received all of them. */
async function holdStreams(session: ClientHttp2Session, path: string, count: number) {
  const before = app.seen.filter((r) => r.url === path).length;
  const streams = Array.from({ length: count }, () => {
    const s = session.request({ ':path': path, ...auth() });
    s.on('error', () => undefined);
    return s;
  });
  await settleOn(
    () => app.seen.filter((r) => r.url === path).length,
    (n) => n === before + count,
  );
  return streams;
}

describe('in-flight accounting of the concurrency limits', () => {
  it('returns to 0 after answered, refused and failed requests (HTTP/1.1, HTTP/2, gRPC)', async () => {
    expect((await send(agent, url('/ok'), { headers: auth() })).status).toBe(200);
    expect((await send(agent, url('/ok'))).status).toBe(401);
    expect((await send(agent, url('/reset'), { headers: auth() })).status).toBe(502);
    const timedOut = await send(agent, url('/slow', quick), { headers: auth() });
    expect(timedOut.json).toMatchObject({ error: 'ERR_APP_TIMEOUT' });
    expect(await settled(quick)).toBe(0);

    const session = await h2();
    const answered = session.request({ ':path': '/stream', ...auth() });
    answered.resume();
    await new Promise((resolve) => answered.once('close', resolve));

    const grpc = echoClient(
      `127.0.0.1:${sidecar.inbound!.port}`,
      credentials.createSsl(
        Buffer.from(pki.workloads['orders']!.bundlePem),
        Buffer.from(pki.workloads['orders']!.keyPem),
        Buffer.from(pki.workloads['orders']!.certPem),
      ),
    );
    try {
      expect((await unary(grpc, { message: 'a' }, metadataOf(auth()))).ok).toBe(true);
      const refused = await unary(grpc, { message: 'b' });
      expect(!refused.ok && refused.err.code).toBe(16);
    } finally {
      grpc.close();
    }
    expect(await settled()).toBe(0);
  });

  it('counts what it holds per peer across connections, not what it refuses', async () => {
    const w = pki.workloads['orders']!;
    const conn = await openHttp1Connection(sidecar.inbound!.port, {
      ca: w.bundlePem,
      cert: w.certPem,
      key: w.keyPem,
    });
    const head = (i: number): string =>
      `GET /slow/limit/${i} HTTP/1.1\r\nhost: localhost\r\nauthorization: ${auth()['authorization']}\r\n\r\n`;
    // Four pipelined on a connection that admits three: the fourth is refused, not held.
    void conn.request([0, 1, 2, 3].map(head).join(''));
    await settleOn(
      () => app.seen.filter((r) => r.url.startsWith('/slow/limit/')).length,
      (n) => n === 3,
    );
    const session = await h2();
    const streams = await holdStreams(session, '/slow/limit/h2', 1);
    expect(await inFlight()).toBe(4);
    expect(app.seen.filter((r) => r.url.startsWith('/slow/limit/'))).toHaveLength(4);
    conn.destroy();
    for (const s of streams) s.close(constants.NGHTTP2_CANCEL);
    expect(await settled()).toBe(0);
    // All four app requests are given up at once (not at the app timeout), queued ones too.
    const limitPaths = ['/slow/limit/0', '/slow/limit/1', '/slow/limit/2', '/slow/limit/h2'];
    expect(
      await settleOn(
        () => abandoned.filter((p) => p.startsWith('/slow/limit/')).sort(),
        (paths) => paths.length === 4,
      ),
    ).toEqual(limitPaths);
  });

  it('an HTTP/2 stream the client resets releases its slot and aborts the app request', async () => {
    const session = await h2();
    const streams = await holdStreams(session, '/slow/reset', 3);
    expect(await inFlight()).toBe(3);
    for (const s of streams) s.close(constants.NGHTTP2_CANCEL);
    expect(await settled()).toBe(0);
    // The app requests are given up at once, not at the app timeout.
    expect(
      await settleOn(
        () => abandoned.filter((p) => p === '/slow/reset').length,
        (n) => n === 3,
      ),
    ).toBe(3);
  });

  it('an HTTP/2 session that goes away releases every stream it held', async () => {
    const session = await h2();
    await holdStreams(session, '/slow/session', 3);
    expect(await inFlight()).toBe(3);
    session.destroy();
    expect(await settled()).toBe(0);
    expect(
      await settleOn(
        () => abandoned.filter((p) => p === '/slow/session').length,
        (n) => n === 3,
      ),
    ).toBe(3);
  });

  it('an HTTP/1.1 client that disconnects mid-request or mid-upload releases its slot', async () => {
    const w = pki.workloads['orders']!;
    const tls = { ca: w.bundlePem, cert: w.certPem, key: w.keyPem };
    const waiting = await openHttp1Connection(sidecar.inbound!.port, tls);
    void waiting.request(
      `GET /slow/h1 HTTP/1.1\r\nhost: localhost\r\nauthorization: ${auth()['authorization']}\r\n\r\n`,
    );
    await settleOn(
      () => app.seen.filter((r) => r.url === '/slow/h1').length,
      (n) => n === 1,
    );
    expect(await inFlight()).toBe(1);
    waiting.destroy();
    expect(await settled()).toBe(0);

    const uploading = await openHttp1Connection(sidecar.inbound!.port, tls);
    void uploading.request(
      `POST /echo HTTP/1.1\r\nhost: localhost\r\nauthorization: ${auth()['authorization']}\r\ncontent-length: 100000\r\n\r\npartial`,
    );
    await settleOn(inFlight, (n) => n === 1);
    uploading.destroy();
    expect(await settled()).toBe(0);
  });

  it('pipelined HTTP/1.1 requests queued behind a slow one are released when the connection closes', async () => {
    const w = pki.workloads['orders']!;
    const conn = await openHttp1Connection(sidecar.inbound!.port, {
      ca: w.bundlePem,
      cert: w.certPem,
      key: w.keyPem,
    });
    const head = (path: string): string =>
      `GET ${path} HTTP/1.1\r\nhost: localhost\r\nauthorization: ${auth()['authorization']}\r\n\r\n`;
    // A slow request, one the app answers but whose response must queue behind it, and a
    // slow one queued too.
    void conn.request(head('/slow/pipelined') + head('/ok/p1') + head('/slow/queued'));
    await settleOn(
      () => app.seen.filter((r) => r.url === '/ok/p1' || r.url === '/slow/queued').length,
      (n) => n === 2,
    );
    conn.destroy();
    expect(await settled()).toBe(0);
    // Both slow app requests are given up at once, not at the app timeout.
    expect(
      await settleOn(
        () => abandoned.filter((p) => p === '/slow/pipelined' || p === '/slow/queued').sort(),
        (paths) => paths.length === 2,
      ),
    ).toEqual(['/slow/pipelined', '/slow/queued']);
  });
});
