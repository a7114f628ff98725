import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { PeerIdentity } from '../../src/binding/peer-identity.js';
import { connectionPeerOf } from '../../src/http/connection-peer.js';
import type { TestWorkload } from './pki.js';

/** A node:http2 mTLS listener that hands every request to `handler` with its peer identity. */
export async function startMtlsFront(
  workload: TestWorkload,
  handler: (req: Http2ServerRequest, res: Http2ServerResponse, peer: PeerIdentity | null) => void,
): Promise<{ server: Http2SecureServer; port: number; close(): Promise<void> }> {
  const server = createSecureServer(
    {
      cert: workload.certPem,
      key: workload.keyPem,
      ca: workload.bundlePem,
      requestCert: true,
      rejectUnauthorized: true,
      allowHTTP1: true,
    },
    // The peer as the sidecar's inbound listener passes it (once per connection).
    (req, res) => handler(req, res, connectionPeerOf(req)),
  );
  return listen(server);
}

/** A plaintext (h2c) node:http2 listener on 127.0.0.1, as the sidecar's outbound side. */
export async function startH2cFront(
  handler: (req: Http2ServerRequest, res: Http2ServerResponse) => void,
): Promise<{ server: Http2Server; port: number; close(): Promise<void> }> {
  return listen(createServer(handler));
}

async function listen<S extends Http2Server | Http2SecureServer>(
  server: S,
): Promise<{ server: S; port: number; close(): Promise<void> }> {
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
