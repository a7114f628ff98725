import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mtlsServerOptions } from './server-tls.js';

/** What the parent passes (JSON in argv[2]). */
interface AppSpec {
  certPath: string;
  keyPath: string;
  caPath: string;
}

const BODY = Buffer.from('{"ok":true}\n');

/** The app under every proxy: a tiny body, nothing else. */
function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  });
}

const spec = JSON.parse(process.argv[2] ?? '{}') as AppSpec;
// Plain HTTP on loopback: what the sidecar, the bare proxy and HAProxy forward to.
const plain = createServer({ keepAliveTimeout: 30_000 }, handle);
// The same app served with mTLS: the "direct" baseline, no proxy in between.
const tls = createHttpsServer(
  {
    ...mtlsServerOptions(spec),
    keepAliveTimeout: 30_000,
  },
  handle,
);
await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
process.stdout.write(
  `${JSON.stringify({
    plainPort: (plain.address() as AddressInfo).port,
    tlsPort: (tls.address() as AddressInfo).port,
  })}\n`,
);
