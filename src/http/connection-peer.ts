import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { peerIdentityOf, type PeerIdentity } from '../binding/peer-identity.js';

/** A node:http or HTTP/2-compatibility request. */
export type AnyRequest = IncomingMessage | Http2ServerRequest;

// One entry per TLS connection (HTTP/1 socket or HTTP/2 session): the thumbprint is hashed
// once per connection, not per request. `null` = no verified client certificate.
const peers = new WeakMap<object, PeerIdentity | null>();

interface PeerSocket {
  authorized?: boolean;
  getPeerX509Certificate?: TLSSocket['getPeerX509Certificate'];
}

function identityOfSocket(socket: PeerSocket): PeerIdentity | null {
  // Fail closed: only a certificate that TLS verified against the bundle counts.
  if (socket.authorized !== true || typeof socket.getPeerX509Certificate !== 'function')
    return null;
  const cert = socket.getPeerX509Certificate();
  return cert === undefined ? null : peerIdentityOf(cert);
}

/**
 * The verified TLS peer of the connection carrying `req` (thumbprint + SPIFFE ID), or
 * `null` without a verified client certificate. Computed on the first request of a
 * connection and remembered; call it before the first `await` of a request, since once the
 * client has gone the certificate is no longer available.
 */
export function connectionPeerOf(req: AnyRequest): PeerIdentity | null {
  const session = 'stream' in req ? req.stream.session : undefined;
  const key: object | undefined = session ?? req.socket;
  if (key === undefined || key === null) return null;
  const known = peers.get(key);
  if (known !== undefined) return known;
  const socket = (session !== undefined ? session.socket : req.socket) as unknown as PeerSocket;
  const identity = identityOfSocket(socket);
  peers.set(key, identity);
  return identity;
}
