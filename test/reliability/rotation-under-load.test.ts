import { readFileSync } from 'node:fs';
import { Metadata } from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  boundTokenClientInterceptor,
  boundTokenServerInterceptor,
  rotatingClient,
  serverCredentialsFrom,
  type RotatingClient,
} from '../../src/grpc/index.js';
import { TokenClient } from '../../src/token/token-client.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import {
  echoClient,
  startEchoServer,
  type EchoClient,
  type EchoServer,
} from '../support/grpc-echo.js';
import {
  MESH_PAYMENTS,
  counterOf,
  currentFiles,
  servedThumbprint,
  startMesh,
  type Mesh,
} from '../support/reliability-mesh.js';

const ROTATIONS_EACH_SIDE = 10;
/** Successful requests (of each transport) that must start and finish after each rotation. */
const CALLS_AFTER_EACH_ROTATION = 8;
const HTTP_WORKERS = 3;
const GRPC_WORKERS = 3;
const TIME_LIMIT_MS = 40_000;

let mesh: Mesh;
let verifier: Verifier;
let grpcServer: EchoServer;
let grpcTokens: TokenClient;
let rc: RotatingClient<EchoClient> | undefined;
let agent: Agent;
const grpcRejections: string[] = [];

beforeAll(async () => {
  mesh = await startMesh();
  const bundle = readFileSync(mesh.bundlePath, 'utf8');
  verifier = createVerifier({
    jwks: { url: mesh.as.jwksUri, ca: bundle },
    issuer: mesh.as.issuer,
    audience: MESH_PAYMENTS,
  });
  // The gRPC side shares the sidecars' file sources: one rotation moves HTTP and gRPC.
  grpcServer = await startEchoServer({
    credentials: serverCredentialsFrom(mesh.sidecarB.source),
    interceptors: [
      boundTokenServerInterceptor(verifier, { onReject: (err) => grpcRejections.push(err.code) }),
    ],
    // Recycle connections so server rotations reach clients that keep their channel.
    options: { 'grpc.max_connection_age_ms': 300, 'grpc.max_connection_age_grace_ms': 10_000 },
  });
  grpcTokens = new TokenClient({
    source: mesh.sidecarA!.source,
    clientId: 'orders',
    issuer: mesh.as.issuer,
    ca: bundle,
  });
  agent = new Agent({ keepAliveTimeout: 10_000, connections: HTTP_WORKERS });
});

afterAll(async () => {
  rc?.close();
  await grpcServer?.close();
  await grpcTokens?.close();
  await verifier?.close();
  await agent?.close();
  await mesh?.close();
});

describe('rotation under load (HTTP through both sidecars, gRPC with the interceptors)', () => {
  it(`rotates both workload certificates ${ROTATIONS_EACH_SIDE} times each under HTTP and gRPC traffic: 0 failed requests, 0 binding mismatches`, async () => {
    const sidecarA = mesh.sidecarA!;
    const sidecarB = mesh.sidecarB;
    rc = rotatingClient(
      sidecarA.source,
      (credentials, identity) =>
        echoClient(`127.0.0.1:${grpcServer.port}`, credentials, [
          boundTokenClientInterceptor(
            grpcTokens,
            { resource: MESH_PAYMENTS, scope: 'payments:read' },
            // Tokens bound to exactly the certificate this channel presents.
            { thumbprint: identity.thumbprint },
          ),
        ]),
      { closeGraceMs: 3_000 },
    );
    const client = rc;
    // Sequence numbers: a request "after" a rotation is one that started after it was published.
    let seq = 0;
    let rotationMark = 0;
    const http = { ok: 0, okAfterMark: 0, failures: [] as string[] };
    const grpc = { ok: 0, okAfterMark: 0, failures: [] as string[] };
    let stop = false;
    const deadline = Date.now() + TIME_LIMIT_MS;

    const httpWorker = async (): Promise<void> => {
      while (!stop && Date.now() < deadline) {
        const n = ++seq;
        try {
          const res = await request(`${mesh.outboundA}/payments/r${n}`, { dispatcher: agent });
          const body = await res.body.text();
          if (res.statusCode === 200) {
            http.ok++;
            if (n > rotationMark) http.okAfterMark++;
          } else http.failures.push(`${res.statusCode} ${body.slice(0, 160)}`);
        } catch (err) {
          http.failures.push(`transport: ${String(err)}`);
        }
      }
    };
    const grpcWorker = async (): Promise<void> => {
      while (!stop && Date.now() < deadline) {
        const n = ++seq;
        await new Promise<void>((resolve) => {
          client.client.Unary(
            { message: `m${n}` },
            new Metadata(),
            { deadline: Date.now() + 10_000 },
            (err) => {
              if (err) grpc.failures.push(`${err.code} ${err.details}`);
              else {
                grpc.ok++;
                if (n > rotationMark) grpc.okAfterMark++;
              }
              resolve();
            },
          );
        });
      }
    };
    /** Resolves once both transports completed enough calls started after the mark. */
    const settle = async (): Promise<void> => {
      rotationMark = seq;
      http.okAfterMark = 0;
      grpc.okAfterMark = 0;
      while (
        Date.now() < deadline &&
        (http.okAfterMark < CALLS_AFTER_EACH_ROTATION ||
          grpc.okAfterMark < CALLS_AFTER_EACH_ROTATION)
      ) {
        if (http.failures.length + grpc.failures.length > 20) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    const workers = [
      ...Array.from({ length: HTTP_WORKERS }, httpWorker),
      ...Array.from({ length: GRPC_WORKERS }, grpcWorker),
    ];
    const ordersThumbprints = [sidecarA.source.current().thumbprint];
    const paymentsThumbprints = [sidecarB.source.current().thumbprint];
    const servedByB: string[] = [];
    let rotations = 0;
    await settle();
    for (let i = 0; i < ROTATIONS_EACH_SIDE && Date.now() < deadline; i++) {
      ordersThumbprints.push(await mesh.rotate('orders', sidecarA.source));
      rotations++;
      await settle();
      paymentsThumbprints.push(await mesh.rotate('payments', sidecarB.source));
      rotations++;
      servedByB.push(
        await servedThumbprint(sidecarB.inbound!.port, currentFiles(mesh.pki, 'orders')),
      );
      await settle();
    }
    stop = true;
    await Promise.all(workers);

    const mismatchesB = await counterOf(sidecarB, 'inboundRequests', {
      code: 'ERR_BINDING_MISMATCH',
    });
    const rejectedB = await counterOf(sidecarB, 'inboundRequests', { result: 'rejected' });
    const okB = await counterOf(sidecarB, 'inboundRequests', { result: 'ok' });
    const grpcMismatches = grpcRejections.filter((c) => c === 'ERR_BINDING_MISMATCH').length;
    console.info(
      `rotation under load: ${rotations} rotations (${ROTATIONS_EACH_SIDE} orders + ${ROTATIONS_EACH_SIDE} payments); ` +
        `HTTP ${http.ok} ok / ${http.failures.length} failed (B: ${okB} ok, ${rejectedB} rejected, ${mismatchesB} binding mismatches); ` +
        `gRPC ${grpc.ok} ok / ${grpc.failures.length} failed (${grpcRejections.length} rejected, ${grpcMismatches} binding mismatches)`,
    );

    expect(rotations).toBe(2 * ROTATIONS_EACH_SIDE);
    expect(http.failures).toEqual([]);
    expect(grpc.failures).toEqual([]);
    // Checked on the receiving side: every token arrived with the certificate it is bound to.
    expect(mismatchesB).toBe(0);
    expect(rejectedB).toBe(0);
    expect(grpcRejections).toEqual([]);
    expect(okB).toBe(http.ok);
    expect(http.ok).toBeGreaterThanOrEqual(
      (2 * ROTATIONS_EACH_SIDE + 1) * CALLS_AFTER_EACH_ROTATION,
    );
    expect(grpc.ok).toBeGreaterThanOrEqual(
      (2 * ROTATIONS_EACH_SIDE + 1) * CALLS_AFTER_EACH_ROTATION,
    );

    // Every orders generation was presented (and verified) on the wire, on both transports.
    const seenByAppB = new Set(mesh.appB.seen.map((s) => s.headers['x-certbound-cert-thumbprint']));
    const seenByGrpc = new Set(grpcServer.seen.map((s) => s.principal?.thumbprint));
    for (const t of ordersThumbprints) {
      expect(seenByAppB).toContain(t);
      expect(seenByGrpc).toContain(t);
    }
    // Sidecar B served each of its new certificates right after the rotation.
    expect(servedByB).toEqual(paymentsThumbprints.slice(1));
    expect(new Set(ordersThumbprints).size).toBe(ROTATIONS_EACH_SIDE + 1);
  });
});
