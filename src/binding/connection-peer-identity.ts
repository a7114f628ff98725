import { X509Certificate } from 'node:crypto';
import { CertboundError, isCertboundError } from '../errors.js';
import { verifiedPeerDerOf, type VerifiedPeerSocket } from './peer-certificate.js';
import { peerIdentityOf, type PeerIdentity } from './peer-identity.js';
import { publishPeerRefusal } from './peer-refusal-channel.js';
import { thumbprintOf } from './thumbprint.js';

/**
 * The client of one TLS connection: its identity, the refusal of its certificate
 * (`ERR_PEER_CERT_*`), or null when it has no verified certificate.
 */
export type ConnectionPeer = PeerIdentity | CertboundError | null;

/**
 * The identity of a verified client certificate given as DER, or the `CertboundError` that
 * refuses it (see `checkClientLeaf`); a refusal is published on the refusal channel.
 * Every transport makes its peer identity here, from the DER the TLS stack verified.
 */
export function clientPeerOfDer(der: Uint8Array): PeerIdentity | CertboundError {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (err) {
    // A verified chain always parses; fail closed all the same.
    return new CertboundError('ERR_PEER_CERT_MISSING', undefined, { cause: err });
  }
  try {
    return peerIdentityOf(x509);
  } catch (err) {
    const error = isCertboundError(err)
      ? err
      : new CertboundError('ERR_PEER_CERT_MISSING', undefined, { cause: err });
    publishPeerRefusal({
      code: error.code,
      reason: String(error.details['reason'] ?? error.message),
      subject: x509.subject.replace(/\n/g, ', ').slice(0, 200),
      thumbprintPrefix: thumbprintOf(der).slice(0, 12),
    });
    return error;
  }
}

// One entry per TLS connection (an HTTP/1 socket or an HTTP/2 session): the certificate is
// read, parsed and checked once per connection, never per request.
const connections = new WeakMap<object, ConnectionPeer>();

/**
 * The client of `connection` (the object whose lifetime is the connection's: a TLSSocket
 * or an HTTP/2 session), read from `socket` on the first call and remembered.
 */
export function connectionPeerIdentityOf(
  connection: object,
  socket: VerifiedPeerSocket,
): ConnectionPeer {
  const known = connections.get(connection);
  if (known !== undefined) return known;
  const der = verifiedPeerDerOf(socket);
  const peer = der === undefined ? null : clientPeerOfDer(der);
  connections.set(connection, peer);
  return peer;
}

/** Why the certificate of `connection` was refused, if it was (no read, no parse). */
export function refusalOfConnection(connection: object): CertboundError | undefined {
  const known = connections.get(connection);
  return known instanceof CertboundError ? known : undefined;
}
