import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { parseConfig } from '../../src/config/load-config.js';
import type { CertboundConfig } from '../../src/config/schema.js';
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
import { counterOf } from '../support/reliability-mesh.js';

// Issue 12 item 2: one HTTP/2 client with 140 slow streams took all 128 connections to the
// app and every other client waited for the app timeout. Now each peer certificate may hold
// only its share (default: half the app pool) and its excess is refused at once with
// 503 ERR_OVERLOADED + Retry-After, HTTP and gRPC alike, counted in the metrics.

/** Streams the greedy client opens: more than a connection and a peer may hold. */
const GREEDY_STREAMS = 140;
const VICTIM_REQUESTS = 20;

let pki: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let grpcApp: EchoServer;
let files: Awaited<ReturnType<typeof tempDir>>;
const sidecars: Sidecar[] = [];
const sessions: ClientHttp2Session[] = [];
const agents: Agent[] = [];

beforeAll(async () => {
  [pki, issuer, app, files, grpcApp] = await Promise.all([
    createTestPki(['payments', 'greedy', 'orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
    startEchoServer({ credentials: ServerCredentials.createInsecure() }),
  ]);
});

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await Promise.all(agents.map((a) => a.close()));
  await Promise.all(sidecars.map((s) => s.close()));
  await grpcApp?.close();
  await app?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

async function startInbound(
  limits: Record<string, unknown>,
): Promise<{ sidecar: Sidecar; config: CertboundConfig }> {
  const payments = pki.workloads['payments']!;
  const jwksFile = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  const config = parseConfig(
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
        limits,
      },
      verify: { issuer: issuer.issuer, audience: issuer.audience, jwksFile },
    },
    {},
  );
  const sidecar = await startSidecar(config, { logger: silentLogger(), processMetrics: false });
  sidecars.push(sidecar);
  return { sidecar, config };
}

const tokenOf = (name: string): Promise<string> =>
  issuer.sign(pki.workloads[name]!.thumbprint, { client_id: name });

async function h2Session(sidecar: Sidecar, name: string): Promise<ClientHttp2Session> {
  const w = pki.workloads[name]!;
  const session = http2Connect(`https://localhost:${sidecar.inbound!.port}`, {
    ca: w.bundlePem,
    cert: w.certPem,
    key: w.keyPem,
  });
  sessions.push(session);
  session.on('error', () => undefined);
  // Streams are opened after the server's SETTINGS, as any HTTP/2 client does.
  await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
  return session;
}

interface StreamAnswer {
  status: number;
  retryAfter: string | undefined;
  code: string | undefined;
}

async function inFlightGauge(sidecar: Sidecar): Promise<number> {
  const metric = await sidecar.metrics.registry
    .getSingleMetric('certbound_inbound_requests_in_flight')
    ?.get();
  return metric?.values[0]?.value ?? Number.NaN;
}

describe('one client cannot starve the others (issue 12 item 2)', () => {
  it(`an HTTP/2 client with ${GREEDY_STREAMS} slow streams gets its excess refused at once; other clients are served`, async () => {
    // Every limit at its default (the app timeout, 30 s, is never reached).
    const { sidecar, config } = await startInbound({});

    const limits = config.inbound!.limits;
    const perPeer = Math.floor(config.inbound!.app.maxConnections / 2);
    expect(limits.maxRequestsPerPeer).toBeUndefined();
    expect(perPeer).toBeLessThan(limits.maxConcurrentStreams);

    const greedy = await h2Session(sidecar, 'greedy');
    expect(greedy.remoteSettings.maxConcurrentStreams).toBe(limits.maxConcurrentStreams);
    const greedyToken = await tokenOf('greedy');
    const answers: StreamAnswer[] = [];
    let allRefused: () => void = () => undefined;
    const refusedInTime = new Promise<void>((resolve) => (allRefused = resolve));
    for (let i = 0; i < GREEDY_STREAMS; i++) {
      const stream = greedy.request({
        ':path': `/slow/${i}`,
        authorization: `Bearer ${greedyToken}`,
      });
      stream.on('error', () => undefined);
      stream.on('response', (headers) => {
        let body = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (body += d));
        stream.on('end', () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(body) as { error?: string }).error;
          } catch {
            code = undefined;
          }
          answers.push({
            status: Number(headers[':status']),
            retryAfter: headers['retry-after'],
            code,
          });
          if (answers.length === GREEDY_STREAMS - perPeer) allRefused();
        });
      });
    }
    // The app never answers /slow: the only answers are the sidecar's refusals.
    await refusedInTime;
    expect(answers.filter((a) => a.status === 503 && a.code === 'ERR_OVERLOADED')).toHaveLength(
      GREEDY_STREAMS - perPeer,
    );
    expect(new Set(answers.map((a) => a.retryAfter))).toEqual(new Set(['1']));

    // Another client, HTTP/1.1 and gRPC, is served while the greedy streams are held.
    const ordersAgent = mtlsAgent(pki.workloads['orders'], pki.workloads['orders']!.bundlePem);
    agents.push(ordersAgent);
    const ordersToken = await tokenOf('orders');
    const victim = await Promise.all(
      Array.from({ length: VICTIM_REQUESTS }, (_, i) =>
        send(ordersAgent, `https://localhost:${sidecar.inbound!.port}/ok/${i}`, {
          headers: { authorization: `Bearer ${ordersToken}` },
        }),
      ),
    );
    expect(victim.map((r) => r.status)).toEqual(Array(VICTIM_REQUESTS).fill(200));
    const grpcFor = (name: string) => {
      const w = pki.workloads[name]!;
      return echoClient(
        `127.0.0.1:${sidecar.inbound!.port}`,
        credentials.createSsl(
          Buffer.from(w.bundlePem),
          Buffer.from(w.keyPem),
          Buffer.from(w.certPem),
        ),
      );
    };
    const ordersGrpc = grpcFor('orders');
    const greedyGrpc = grpcFor('greedy');
    try {
      const served = await unary(
        ordersGrpc,
        { message: 'hi' },
        metadataOf({ authorization: `Bearer ${ordersToken}` }),
      );
      expect(served.ok).toBe(true);
      // The greedy peer's gRPC calls share its HTTP share: refused, UNAVAILABLE.
      const refused = await unary(
        greedyGrpc,
        { message: 'hi' },
        metadataOf({ authorization: `Bearer ${greedyToken}` }),
      );
      expect(refused.ok).toBe(false);
      expect(!refused.ok && refused.err.code).toBe(14);
      expect(!refused.ok && refused.err.details).toMatch(/^ERR_OVERLOADED: /);
    } finally {
      ordersGrpc.close();
      greedyGrpc.close();
    }
    // Nothing of the greedy client's was answered by the app meanwhile; it holds its share.
    expect(answers).toHaveLength(GREEDY_STREAMS - perPeer);
    expect(app.seen.filter((r) => r.url.startsWith('/slow/'))).toHaveLength(perPeer);
    expect(await inFlightGauge(sidecar)).toBe(perPeer);
    expect(
      await counterOf(sidecar, 'inboundRequests', { result: 'rejected', code: 'ERR_OVERLOADED' }),
    ).toBe(GREEDY_STREAMS - perPeer + 1);

    // When the greedy client goes, its share is free again.
    greedy.destroy();
    expect(
      await settleOn(
        () => inFlightGauge(sidecar),
        (n) => n === 0,
      ),
    ).toBe(0);
  });

  it('pipelined HTTP/1.1 requests beyond maxConcurrentStreams on one connection are refused, not forwarded', async () => {
    const { sidecar } = await startInbound({ maxConcurrentStreams: 4, maxRequestsPerPeer: 0 });
    const w = pki.workloads['orders']!;
    const conn = await openHttp1Connection(sidecar.inbound!.port, {
      ca: w.bundlePem,
      cert: w.certPem,
      key: w.keyPem,
    });
    const token = await tokenOf('orders');
    const head = (i: number): string =>
      `GET /slow-ok/${i} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\n\r\n`;
    // Six requests in one write: four may be in flight on this connection.
    const first = conn.request(Array.from({ length: 6 }, (_, i) => head(i)).join(''));
    const outcomes = [await first];
    for (let i = 1; i < 6; i++) outcomes.push(await conn.request(''));
    conn.destroy();

    expect(outcomes.map((o) => (o.ok ? o.response.status : o.reason))).toEqual([
      200, 200, 200, 200, 503, 503,
    ]);
    const refused = outcomes[5]!;
    expect(refused.ok && refused.response.headers['retry-after']).toBe('1');
    expect(refused.ok && JSON.parse(refused.response.body)).toMatchObject({
      error: 'ERR_OVERLOADED',
    });
    expect(app.seen.filter((r) => r.url.startsWith('/slow-ok/'))).toHaveLength(4);
  });
});
