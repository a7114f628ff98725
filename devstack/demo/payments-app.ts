import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The identity headers the payments app received on one request (set by its sidecar). */
export interface PaymentsSeen {
  readonly path: string;
  readonly clientId: string | undefined;
  readonly spiffeId: string | undefined;
  readonly scope: string | undefined;
  readonly thumbprint: string | undefined;
  /** True if an `Authorization` header reached the app (it should not). */
  readonly sawAuthorization: boolean;
}

/** The demo's HTTP service: plain node:http on 127.0.0.1, reachable only via its sidecar. */
export interface PaymentsApp {
  readonly url: string;
  /** Requests received so far. */
  readonly requests: () => number;
  /** The latest request. */
  readonly last: () => PaymentsSeen | undefined;
  close(): Promise<void>;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Starts the payments app. Every request is answered `200` with JSON describing the
 * verified caller its sidecar vouched for (`x-certbound-*` headers).
 */
export async function startPaymentsApp(port = 0): Promise<PaymentsApp> {
  let count = 0;
  let last: PaymentsSeen | undefined;
  const server = createServer((req, res) => {
    req.resume();
    req.once('end', () => {
      count++;
      last = {
        path: req.url ?? '/',
        clientId: header(req.headers['x-certbound-client-id']),
        spiffeId: header(req.headers['x-certbound-spiffe-id']),
        scope: header(req.headers['x-certbound-scope']),
        thumbprint: header(req.headers['x-certbound-cert-thumbprint']),
        sawAuthorization: req.headers.authorization !== undefined,
      };
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ service: 'payments', status: 'paid', caller: last })}\n`);
    });
  });
  server.keepAliveTimeout = 2_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests: () => count,
    last: () => last,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
