import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { listen } from './listen.js';

/** What `/readyz` answers (as JSON; 200 when `ready`, else 503). */
export interface ReadinessReport {
  readonly ready: boolean;
  /** Every named check and whether it passes: `certificate`, `jwks`, `tokenEndpoint`, `notDraining`. */
  readonly checks: Readonly<Record<string, boolean>>;
  /** For each failing check, why (the certificate's notAfter, the JWKS URL and status, the AS error). */
  readonly reasons: Readonly<Record<string, string>>;
}

/** Options of {@link startAdminServer}. */
export interface AdminServerOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** The current readiness (evaluated per `/readyz` call). */
  readonly readiness: () => ReadinessReport;
  /** Prometheus registry served at `/metrics`. */
  readonly registry: Registry;
  readonly logger: Logger;
}

/** A running admin listener. */
export interface AdminServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts the admin listener: `/healthz` (the process is alive), `/readyz` (200 when every
 * readiness check passes, else 503; the body names each check and why a failing one
 * fails), `/metrics` (Prometheus text).
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const report = options.readiness();
      res
        .writeHead(report.ready ? 200 : 503, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
        })
        .end(JSON.stringify(report));
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (err: unknown) => {
          options.logger.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port, host, 'admin');
  return {
    server,
    host,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
