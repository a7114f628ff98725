import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import {
  boundTokenClientInterceptor,
  boundTokenServerInterceptor,
  rotatingClient,
  serverCredentialsFrom,
  type RotatingClient,
} from '../../src/grpc/index.js';
import type { AccessToken, TokenProvider } from '../../src/token/access-token.js';
import { createTestPki, type TestPki, type TestWorkload, materialOf } from '../support/pki.js';
import {
  AUDIENCE,
  ISSUER,
  createTokenMinter,
  echoClient,
  startEchoServer,
  type EchoClient,
  type EchoServer,
  type TokenMinter,
} from '../support/grpc-echo.js';

const ROTATIONS_EACH = 6;
const CALLS_BETWEEN_ROTATIONS = 30;
const WORKERS = 4;
const TIME_LIMIT_MS = 40_000;

let pki: TestPki;
let minter: TokenMinter;
let verifier: Verifier;
let server: EchoServer;
let serverSource: StaticX509Source;
let clientSource: StaticX509Source;
let rc: RotatingClient<EchoClient>;
const serverGenerations: TestWorkload[] = [];
const clientGenerations: TestWorkload[] = [];

beforeAll(async () => {
  pki = await createTestPki(['orders', 'payments']);
  serverGenerations.push(pki.workloads['payments']!);
  clientGenerations.push(pki.workloads['orders']!);
  // Certificates for every rotation are minted up front: rotating is then a synchronous set().
  for (let i = 0; i < ROTATIONS_EACH; i++) {
    serverGenerations.push(await pki.issue('payments'));
    clientGenerations.push(await pki.issue('orders'));
  }
  minter = await createTokenMinter();
  verifier = createVerifier({ jwks: { keys: minter.jwks }, issuer: ISSUER, audience: AUDIENCE });
  serverSource = StaticX509Source.create(materialOf(serverGenerations[0]!));
  clientSource = StaticX509Source.create(materialOf(clientGenerations[0]!));
  server = await startEchoServer({
    credentials: serverCredentialsFrom(serverSource),
    interceptors: [boundTokenServerInterceptor(verifier)],
    // Recycle connections so that server rotations reach clients that keep their channel.
    options: { 'grpc.max_connection_age_ms': 250, 'grpc.max_connection_age_grace_ms': 10_000 },
  });
});

afterAll(async () => {
  rc?.close();
  await server?.close();
  await verifier?.close();
  await serverSource?.close();
  await clientSource?.close();
  await pki?.cleanup();
});

/**
 * Behaves like the TokenClient: a cached token per certificate thumbprint, for the current
 * certificate or the one a pinned request names.
 */
function tokensFollowing(source: StaticX509Source): TokenProvider & { mints: number } {
  const cache = new Map<string, Promise<AccessToken>>();
  const provider = {
    mints: 0,
    get(_request: unknown, options: { thumbprint?: string } = {}) {
      const thumbprint = options.thumbprint ?? source.current().thumbprint;
      let token = cache.get(thumbprint);
      if (token === undefined) {
        provider.mints++;
        token = minter.mint({ thumbprint }).then((accessToken) => ({
          accessToken,
          tokenType: 'Bearer',
          expiresAt: new Date(Date.now() + 300_000),
          thumbprint,
        }));
        cache.set(thumbprint, token);
      }
      return token;
    },
  };
  return provider;
}

describe('certificate rotation under gRPC traffic', () => {
  it('rotates server and client certificates during a stream of unary calls with zero failed calls', async () => {
    const tokens = tokensFollowing(clientSource);
    rc = rotatingClient(
      clientSource,
      (credentials, identity) =>
        echoClient(`127.0.0.1:${server.port}`, credentials, [
          boundTokenClientInterceptor(
            tokens,
            { audience: AUDIENCE },
            { thumbprint: identity.thumbprint },
          ),
        ]),
      { closeGraceMs: 2_000 },
    );
    let calls = 0;
    let failures = 0;
    let rotations = 0;
    const failureDetails: string[] = [];
    const serverThumbprintsSeen = new Set<string>();
    const totalRotations = ROTATIONS_EACH * 2;
    const target = (totalRotations + 2) * CALLS_BETWEEN_ROTATIONS;
    const deadline = Date.now() + TIME_LIMIT_MS;

    const rotate = (): void => {
      rotations++;
      // Alternate: server (odd), client (even).
      const gen = Math.ceil(rotations / 2);
      if (rotations % 2 === 1) serverSource.set(materialOf(serverGenerations[gen]!));
      else clientSource.set(materialOf(clientGenerations[gen]!));
    };

    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const call = rc.client.Unary(
          { message: `call-${calls}` },
          new Metadata(),
          { deadline: Date.now() + 10_000 },
          (err) => {
            calls++;
            if (err) {
              failures++;
              failureDetails.push(`${err.code} ${err.details}`);
            } else {
              const peer = call.getAuthContext()?.sslPeerCertificate;
              if (peer?.raw) serverThumbprintsSeen.add(thumbprintOf(peer.raw));
            }
            if (calls % CALLS_BETWEEN_ROTATIONS === 0 && rotations < totalRotations) rotate();
            resolve();
          },
        );
      });

    const worker = async (): Promise<void> => {
      while (calls < target && Date.now() < deadline) await one();
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));

    console.info(
      `grpc rotation: ${calls} calls, ${rotations} rotations (${ROTATIONS_EACH} server + ${ROTATIONS_EACH} client), ${failures} failures, ${tokens.mints} tokens minted`,
    );
    expect(failureDetails).toEqual([]);
    expect(failures).toBe(0);
    expect(rotations).toBe(totalRotations);
    expect(calls).toBeGreaterThanOrEqual(target);

    // Every client certificate generation was presented on a connection and verified.
    const clientThumbprintsSeen = new Set(server.seen.map((s) => s.principal?.thumbprint));
    for (const gen of clientGenerations) expect(clientThumbprintsSeen).toContain(gen.thumbprint);
    // Calls after the last rotation carry the newest client certificate.
    expect(server.seen.at(-1)?.principal?.thumbprint).toBe(clientGenerations.at(-1)!.thumbprint);
    // Every server certificate generation was presented to the client on a new connection.
    for (const gen of serverGenerations) expect(serverThumbprintsSeen).toContain(gen.thumbprint);
    expect(tokens.mints).toBe(ROTATIONS_EACH + 1);
  });
});
