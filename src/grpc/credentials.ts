import type { PeerCertificate } from 'node:tls';
import {
  credentials,
  experimental,
  type ChannelCredentials,
  type ServerCredentials,
} from '@grpc/grpc-js';
import type { TlsContextSettings } from '../tls/follow-secure-context.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import type { X509Source } from '../identity/x509-source.js';
import { X509CertificateProvider } from './certificate-provider.js';
import { X509ServerCredentials } from './x509-server-credentials.js';

/** Options of {@link channelCredentialsFrom}. */
export interface ChannelCredentialsOptions {
  /**
   * Checks the server certificate beyond chain validation (e.g. its SPIFFE ID). Return an
   * Error to refuse the connection. Default: node's host name check against the target.
   */
  checkServerIdentity?: (hostname: string, cert: PeerCertificate) => Error | undefined;
}

/**
 * Server credentials that follow `source`: the server presents the current workload
 * certificate, trusts the current bundle and requires a verified client certificate, with
 * certbound's TLS settings (TLS ≥ 1.2, RFC 9325 suites for TLS 1.2; override with `tls`).
 * A rotation applies to new connections without restarting the server; set
 * `grpc.max_connection_age_ms` on the server to recycle long-lived ones.
 */
export function serverCredentialsFrom(
  source: X509Source,
  options: { tls?: TlsContextSettings } = {},
): ServerCredentials {
  return new X509ServerCredentials(source, options.tls);
}

/**
 * Channel credentials that follow `source`: the client presents the current workload
 * certificate and trusts the current bundle. New connections (e.g. after the server's
 * max connection age) use the newest identity without recreating the client.
 */
export function channelCredentialsFrom(
  source: X509Source,
  options: ChannelCredentialsOptions = {},
): ChannelCredentials {
  const provider = new X509CertificateProvider(source);
  return experimental.createCertificateProviderChannelCredentials(
    provider,
    provider,
    options.checkServerIdentity === undefined
      ? {}
      : { checkServerIdentity: options.checkServerIdentity },
  );
}

/**
 * Channel credentials pinned to one identity snapshot: every connection of the channel
 * presents this certificate and trusts this bundle, whatever the source does later. Used by
 * {@link rotatingClient}, which makes one channel per identity, so that a channel and the
 * tokens it sends always agree on the certificate (RFC 8705 §3).
 */
export function channelCredentialsOf(
  identity: WorkloadIdentity,
  options: ChannelCredentialsOptions = {},
): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(identity.bundlePem),
    Buffer.from(identity.keyPem),
    Buffer.from(identity.chainPem),
    options.checkServerIdentity === undefined
      ? {}
      : { checkServerIdentity: options.checkServerIdentity },
  );
}
