import {
  connect,
  constants,
  createSecureServer,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { mtlsServerOptions } from './server-tls.js';

/** What the parent passes (JSON in argv[2]). */
interface BareGrpcRelaySpec {
  certPath: string;
  keyPath: string;
  caPath: string;
  /** The gRPC app, h2c: `http://127.0.0.1:PORT`. */
  appUrl: string;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as BareGrpcRelaySpec;
const app = new URL(spec.appUrl);
const session = connect(app);

// RFC 9113 §8.2.2: connection-specific fields never cross an HTTP/2 hop (`te: trailers` does).
const DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

function copy(headers: IncomingHttpHeaders, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(':') && !DROPPED.has(name) && value !== undefined) into[name] = value;
  }
  return into;
}

/**
 * The floor of "what a Node gRPC relay costs": mTLS termination and HTTP/2 stream relaying
 * (headers, messages, trailers) over one h2c session to the app, on node:http2's core
 * stream API (no compatibility layer), with no token or binding check at all.
 */
const server = createSecureServer(mtlsServerOptions(spec));
server.on('stream', (downstream, headers) => {
  const upstream = session.request(
    copy(headers, {
      ':method': 'POST',
      ':scheme': 'http',
      ':authority': app.host,
      ':path': headers[':path'] ?? '/',
    }),
  );
  upstream.on('response', (response, flags) => {
    if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
      downstream.respond(copy(response, { ':status': 200 }), { endStream: true });
      return;
    }
    downstream.respond(copy(response, { ':status': 200 }), { waitForTrailers: true });
    upstream.pipe(downstream);
  });
  let trailers: OutgoingHttpHeaders = {};
  upstream.on('trailers', (t) => (trailers = copy(t, {})));
  downstream.on('wantTrailers', () => downstream.sendTrailers(trailers));
  upstream.on('error', () => downstream.close(constants.NGHTTP2_INTERNAL_ERROR));
  downstream.on('error', () => upstream.close(constants.NGHTTP2_CANCEL));
  downstream.pipe(upstream);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
process.on('SIGTERM', () => process.exit(0));
