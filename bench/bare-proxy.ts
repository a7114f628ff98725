import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { mtlsServerOptions } from './server-tls.js';

/** What the parent passes (JSON in argv[2]). */
interface BareProxySpec {
  certPath: string;
  keyPath: string;
  caPath: string;
  appUrl: string;
}

// RFC 9110 §7.6.1: connection-specific fields are not forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);

const spec = JSON.parse(process.argv[2] ?? '{}') as BareProxySpec;
const app = new URL(spec.appUrl);
// Same pool settings as certbound's inbound proxy, so the only difference is the checks.
const pool = new Pool(app.origin, { connections: 128, pipelining: 1, keepAliveTimeout: 4_000 });

/**
 * The baseline of "what a proxy costs": mTLS termination and keep-alive forwarding over an
 * undici pool, streaming both ways, with no token or binding check at all.
 */
const server = createServer(
  {
    ...mtlsServerOptions(spec),
    keepAliveTimeout: 5_000,
  },
  (req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'];
    pool
      .request({
        method: req.method as 'GET',
        path: req.url ?? '/',
        headers,
        body: hasBody ? req : null,
      })
      .then(
        (answer) => {
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(answer.headers)) {
            if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
          }
          res.writeHead(answer.statusCode, out);
          answer.body.on('error', () => res.destroy());
          answer.body.pipe(res);
        },
        () => res.writeHead(502).end(),
      );
  },
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
process.on('SIGTERM', () => process.exit(0));
