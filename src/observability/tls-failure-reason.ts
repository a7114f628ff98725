import type { TlsFailureReason } from './metrics.js';

// OpenSSL/node error codes of a refused handshake, server side, to a bounded reason.
const BY_CODE: Readonly<Record<string, TlsFailureReason>> = {
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'no_client_certificate',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'protocol_version',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'protocol_version',
  ERR_SSL_WRONG_VERSION_NUMBER: 'protocol_version',
  ERR_SSL_NO_SHARED_CIPHER: 'no_shared_cipher',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'no_shared_cipher',
  ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM: 'no_shared_cipher',
  ERR_SSL_NO_SHARED_GROUPS: 'no_shared_cipher',
  ERR_SSL_HTTP_REQUEST: 'not_tls',
  ERR_SSL_HTTPS_PROXY_REQUEST: 'not_tls',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'not_tls',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'peer_refused_certificate',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'peer_refused_certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'peer_refused_certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'peer_refused_certificate',
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: 'peer_refused_certificate',
  ERR_TLS_HANDSHAKE_TIMEOUT: 'timeout',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
};

/**
 * The bounded reason of a refused inbound handshake, from node's `tlsClientError` error code
 * and the socket's `authorizationError` (node checks the client certificate after OpenSSL's
 * handshake and then only destroys the socket, so the error alone says "socket hang up").
 * Never a free-form string: it becomes a metric label.
 */
export function tlsFailureReasonOf(
  code: string | undefined,
  authorizationError: unknown,
): TlsFailureReason {
  // Typed as an Error by @types/node; node sets the verify error's code (a string).
  if (typeof authorizationError === 'string' && authorizationError !== '')
    return authorizationError === 'CERT_HAS_EXPIRED'
      ? 'client_certificate_expired'
      : 'untrusted_client_certificate';
  return (code !== undefined ? BY_CODE[code] : undefined) ?? 'other';
}
