import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { CertboundError } from '../errors.js';
import {
  connectionPeerIdentityOf,
  type ConnectionPeer,
} from '../binding/connection-peer-identity.js';
import type { VerifiedPeerSocket } from '../binding/peer-certificate.js';
import type { PeerIdentity } from '../binding/peer-identity.js';

/** A node:http or HTTP/2-compatibility request. */
export type AnyRequest = IncomingMessage | Http2ServerRequest;

function connectionOf(req: AnyRequest): ConnectionPeer {
  const session = 'stream' in req ? req.stream.session : undefined;
  // The HTTP/2 session (not its socket proxy) or the HTTP/1 socket lives as long as the connection.
  const key: object | undefined = session ?? req.socket;
  if (key === undefined || key === null) return null;
  const socket = (session !== undefined ? session.socket : req.socket) as unknown;
  return connectionPeerIdentityOf(key, socket as VerifiedPeerSocket);
}

/**
 * The verified TLS peer of the connection carrying `req` (thumbprint + SPIFFE ID), or
 * `null` without a verified client certificate or when its certificate is refused as a
 * client leaf (see {@link connectionPeerErrorOf} for why). Computed on the first request of
 * a connection and remembered; call it before the first `await` of a request, since once
 * the client has gone the certificate is no longer available. Never throws.
 */
export function connectionPeerOf(req: AnyRequest): PeerIdentity | null {
  const peer = connectionOf(req);
  return peer instanceof CertboundError ? null : peer;
}

/**
 * Why {@link connectionPeerOf} is null for `req`: the refusal of its certificate
 * (`ERR_PEER_CERT_NOT_LEAF`, `ERR_PEER_CERT_WEAK_KEY`, `ERR_PEER_CERT_NOT_CLIENT`) or
 * `ERR_PEER_CERT_MISSING`.
 */
export function connectionPeerErrorOf(req: AnyRequest): CertboundError {
  const peer = connectionOf(req);
  return peer instanceof CertboundError ? peer : new CertboundError('ERR_PEER_CERT_MISSING');
}
