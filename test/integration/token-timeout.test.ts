import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { isCertboundError } from '../../src/errors.js';
import { issueCertificate } from '../../src/devca/dev-ca.js';
import { createTokenClient, TokenClient } from '../../src/token/index.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { sourceOf } from '../support/as.js';

const HUNG = Symbol('hung');

/** Settles with the rejection, or HUNG when the promise has not settled after `limitMs`. */
async function settle(promise: Promise<unknown>, limitMs = 15_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise((resolve) => {
    timer = setTimeout(() => resolve(HUNG), limitMs);
  });
  try {
    return await Promise.race([
      promise.then(
        () => 'resolved',
        (err: unknown) => err,
      ),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function listen(server: NetServer | TlsServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

describe('TokenClient: an AS that never answers', () => {
  let pki: TestPki;
  const sockets = new Set<Socket>();
  let silentTls: TlsServer;
  let silentTcp: NetServer;
  let tlsPort = 0;
  let tcpPort = 0;

  beforeAll(async () => {
    pki = await createTestPki(['orders']);
    const server = await issueCertificate(pki.ca, { name: 'slow-as', usages: ['serverAuth'] });
    // Completes the TLS handshake, then reads the request and never responds.
    silentTls = createTlsServer({ key: server.keyPem, cert: server.certPem }, (socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
    });
    // Accepts TCP and never speaks TLS.
    silentTcp = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
    });
    tlsPort = await listen(silentTls);
    tcpPort = await listen(silentTcp);
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silentTls.close(r));
    await new Promise((r) => silentTcp.close(r));
    await pki.cleanup();
  });

  for (const [label, port] of [
    ['after the handshake', () => tlsPort],
    ['during the handshake', () => tcpPort],
  ] as const) {
    it(`token request times out ${label} → ERR_AS_TIMEOUT, no hung promise`, async () => {
      const source = sourceOf(pki.workloads['orders']!);
      const c = new TokenClient({
        source,
        clientId: 'orders',
        tokenEndpoint: `https://127.0.0.1:${port()}/token`,
        timeoutMs: 300,
      });
      try {
        const outcome = await settle(c.get({ resource: 'https://payments.demo.local' }));
        expect(outcome).not.toBe(HUNG);
        expect(isCertboundError(outcome, 'ERR_AS_TIMEOUT')).toBe(true);
        expect(c.stats()).toMatchObject({ failures: 1, asRequests: { token: 1 } });
      } finally {
        await c.close();
        await source.close();
      }
    });
  }

  it('discovery times out → ERR_DISCOVERY caused by ERR_AS_TIMEOUT', async () => {
    const source = sourceOf(pki.workloads['orders']!);
    try {
      const outcome = await settle(
        createTokenClient({
          source,
          clientId: 'orders',
          issuer: `https://127.0.0.1:${tlsPort}`,
          timeoutMs: 300,
        }),
      );
      expect(outcome).not.toBe(HUNG);
      expect(isCertboundError(outcome, 'ERR_DISCOVERY')).toBe(true);
      if (!isCertboundError(outcome)) throw outcome;
      expect(outcome.details['reason']).toBe('ERR_AS_TIMEOUT');
    } finally {
      await source.close();
    }
  });

  it('a refused connection is ERR_AS_UNAVAILABLE, retried only after the backoff', async () => {
    const closed = createNetServer();
    const port = await listen(closed);
    await new Promise((r) => closed.close(r));
    const source = sourceOf(pki.workloads['orders']!);
    const c = new TokenClient({
      source,
      clientId: 'orders',
      tokenEndpoint: `https://127.0.0.1:${port}/token`,
      minBackoffMs: 60_000,
      maxBackoffMs: 60_000,
    });
    try {
      const first = await settle(c.get({ resource: 'https://payments.demo.local' }));
      expect(isCertboundError(first, 'ERR_AS_UNAVAILABLE')).toBe(true);
      const second = await settle(c.get({ resource: 'https://payments.demo.local' }));
      expect(isCertboundError(second, 'ERR_AS_UNAVAILABLE')).toBe(true);
      // The second caller was answered from the backoff state, without a new connection.
      expect(c.stats().asRequests.token).toBe(1);
    } finally {
      await c.close();
      await source.close();
    }
  });
});
